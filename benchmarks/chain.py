"""Per-step orchestration overhead: a chain of N no-op tasks, each recorded durably.

    python benchmarks/chain.py                 # 1000 steps, 5 repetitions, SQLite default
    python benchmarks/chain.py --durability full
    python benchmarks/chain.py --quick         # the smoke run used by `make test`

Prints the median (and min-max) milliseconds of orchestration per step: the run's wall
time minus the same chain as plain Python calls, divided by N. The target (issue #2) is
<= 0.2 ms per step on the SQLite default. Also prints the time of `import legato` in a
fresh interpreter (target < 150 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def import_time_ms(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import legato"], check=True)
        times.append((time.perf_counter() - start) * 1000)
    bare = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append((time.perf_counter() - start) * 1000)
    return statistics.median(times) - statistics.median(bare)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--durability", choices=["normal", "full"], default="normal")
    parser.add_argument("--executor", default="threads")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--quick", action="store_true", help="100 steps, 1 repetition")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeat = 100, 1

    home = Path(tempfile.mkdtemp(prefix="legato-bench-"))
    os.environ["LEGATO_HOME"] = str(home)
    import legato as lg

    settings = lg.Settings(home=home, durability=args.durability, executor=args.executor,
                           database_url=args.database_url)

    @lg.task
    def step(previous: int) -> int:
        return previous + 1

    @lg.flow
    def chain(n: int) -> int:
        value = 0
        for _ in range(n):
            value = step(value)
        return value

    def plain(n: int) -> int:
        value = 0
        for _ in range(n):
            value = step.fn(value)
        return value

    lg.run(chain, n=1, settings=settings)  # create and migrate the store first
    per_step = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = lg.run(chain, n=args.steps, settings=settings)
        elapsed = time.perf_counter() - start
        if result.output != args.steps:
            print(f"chain did not verify: output {result.output!r}", file=sys.stderr)
            return 1
        start = time.perf_counter()
        plain(args.steps)
        baseline = time.perf_counter() - start
        per_step.append((elapsed - baseline) / args.steps * 1000)
    report = {
        "workload": "chain",
        "steps": args.steps,
        "repeat": args.repeat,
        "durability": args.durability,
        "executor": args.executor,
        "store": "postgresql" if args.database_url else "sqlite",
        "ms_per_step_median": round(statistics.median(per_step), 4),
        "ms_per_step_min": round(min(per_step), 4),
        "ms_per_step_max": round(max(per_step), 4),
        "import_ms": round(import_time_ms(1 if args.quick else 5), 1),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"chain of {args.steps} steps ({report['store']}, durability={args.durability}, "
            f"executor={args.executor}): {report['ms_per_step_median']:.3f} ms/step median "
            f"(min {report['ms_per_step_min']:.3f}, max {report['ms_per_step_max']:.3f}, "
            f"{args.repeat} runs); import legato: {report['import_ms']:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
