"""Queue throughput: ``legato worker`` processes claiming and executing queued no-op runs
(one step each) on PostgreSQL, and the latency from a run's request to its start.

    .venv/bin/python benchmarks/queue_claims.py                  # 5000 runs, 4 workers
    .venv/bin/python benchmarks/queue_claims.py --runs 2000 --workers 2 --slots 8
    .venv/bin/python benchmarks/queue_claims.py --url sqlite     # the embedded store

The runs are queued first, then the workers start; the figure is runs per second from the
first claim to the last run's end (the store's own timestamps; worker start-up excluded),
with the wall time including start-up beside it. Then, with the workers idle, single runs
are queued one at a time and the time from request to start (``started_at - created_at``)
is reported. Every run must have succeeded and been claimed exactly once.

legato-only (no peer has this queue's shape): not part of ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("LEGATO_BENCH_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FLOWS = """
import legato as lg


@lg.task
def touch(x: int) -> int:
    return x


@lg.flow
def noop(x: int = 0) -> int:
    return touch(x)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--latency-samples", type=int, default=50)
    parser.add_argument("--url", default=POSTGRES_URL,
                        help="a PostgreSQL URL, or 'sqlite' for a file in a temporary folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))

    from sqlalchemy import create_engine, text

    with tempfile.TemporaryDirectory(prefix="legato-queue-bench-") as folder:
        project = Path(folder)
        schema = None
        if args.url == "sqlite":
            url = f"sqlite:///{project / 'legato.db'}"
        else:
            schema = f"legato_bench_{secrets.token_hex(4)}"
            with create_engine(args.url).begin() as connection:
                connection.execute(text(f"CREATE SCHEMA {schema}"))
            separator = "&" if "?" in args.url else "?"
            url = f"{args.url}{separator}options=-csearch_path%3D{schema}"
        try:
            figures = _measure(project, url, args)
        finally:
            if schema is not None:
                with create_engine(args.url).begin() as connection:
                    connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{figures['runs']} no-op runs, {figures['workers']} workers x "
              f"{figures['slots']} slots on {figures['store']} ({os.cpu_count()} cores): "
              f"{figures['runs_per_s']:.0f} runs/s from first claim to last end "
              f"({figures['wall_runs_per_s']:.0f} runs/s with start-up, "
              f"{figures['wall_s']:.1f}s wall)")
        print(f"queue -> start latency, idle workers: p50 {figures['latency_p50_ms']:.1f} ms, "
              f"p95 {figures['latency_p95_ms']:.1f} ms, max {figures['latency_max_ms']:.1f} ms")
    return 0


def _measure(project: Path, url: str, args: argparse.Namespace) -> dict[str, object]:
    from sqlalchemy import func, select

    from legato.engine.session import new_run_id
    from legato.store import schema
    from legato.store.queue import enqueue, queued_event
    from legato.store.sql_store import SqlStore

    flows = project / "flows.py"
    flows.write_text(FLOWS)
    source = f"file:{flows}"

    def queue(n: int) -> list[str]:
        events = [queued_event(new_run_id(), kind="flow", target="noop", params={"x": i},
                               source=source) for i in range(n)]
        for start in range(0, n, 1000):
            assert all(enqueue(store, events[start:start + 1000])), "a run id was reused"
        return [e.run_id for e in events]

    runs = schema.runs
    with SqlStore(url) as store:
        queue(args.runs)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
        env.update({"LEGATO_DATABASE_URL": url, "LEGATO_HOME": str(project / ".legato"),
                    "PYTHONPATH": str(ROOT / "src")})
        started = time.perf_counter()
        workers = [subprocess.Popen(
            [sys.executable, "-m", "legato.cli.main", "worker", "--slots", str(args.slots)],
            cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True) for _ in range(args.workers)]
        try:
            def left() -> int:
                rows = store.read(select(func.count()).select_from(runs)
                                  .where(runs.c.status.in_(["queued", "running"])))
                return int(rows[0][0])

            while left():
                time.sleep(0.05)
            wall = time.perf_counter() - started
            first, last, ok = store.read(select(
                func.min(runs.c.started_at), func.max(runs.c.ended_at),
                func.count().filter(runs.c.status == "succeeded")))[0]
            claims = store.read(select(func.count()).select_from(schema.events)
                                .where(schema.events.c.kind == "run_claimed"))[0][0]
            if ok != args.runs:
                bad = store.read(select(runs.c.run_id, runs.c.status, runs.c.error)
                                 .where(runs.c.status != "succeeded").limit(5))
                raise AssertionError(f"{ok} of {args.runs} runs succeeded; e.g. {bad}")
            assert claims == args.runs, f"{claims} claims for {args.runs} runs"
            latencies = []
            for _ in range(args.latency_samples):
                (run_id,) = queue(1)
                while True:
                    run = store.get_run(run_id)
                    if run.ended_at is not None:
                        break
                    time.sleep(0.002)
                assert run.started_at is not None
                latencies.append((run.started_at - run.created_at) * 1000)
                time.sleep(0.05)  # let the workers go idle again
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                _, err = worker.communicate(timeout=60)
                if worker.returncode != 0:
                    print(err, file=sys.stderr)
    latencies.sort()
    return {
        "store": "sqlite" if url.startswith("sqlite") else "postgresql",
        "runs": args.runs, "workers": args.workers, "slots": args.slots,
        "runs_per_s": args.runs / (last - first), "wall_s": wall,
        "wall_runs_per_s": args.runs / wall,
        "latency_p50_ms": statistics.median(latencies),
        "latency_p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "latency_max_ms": latencies[-1],
    }


if __name__ == "__main__":
    raise SystemExit(main())
