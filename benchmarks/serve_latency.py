"""Latency from a schedule's tick to its run's first step starting, under ``legato serve``.

    .venv/bin/python benchmarks/serve_latency.py                 # 20 ticks, SQLite
    .venv/bin/python benchmarks/serve_latency.py --ticks 60 --json

A project with one schedule firing every second (``lg.every("1s")``: the same trigger
path as a cron schedule, whose finest cadence is a minute) runs in ``Server`` (the
scheduler and a worker in one process, as ``legato serve``) on a fresh SQLite store. For
each run: the tick's instant (its key) to the first step's recorded start. The target is
100 ms at most.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

PIPELINE = '''
import legato as lg


@lg.task
def first(n: int) -> int:
    return n


@lg.flow(schedule=lg.every("1s", catch_up="none", params={"n": 1}))
def heartbeat(n: int) -> int:
    return first(n)
'''


def measure(ticks: int) -> list[float]:
    import legato as lg
    from legato.daemon.serve import Server
    from legato.scheduler.timezones import parse_instant
    from legato.store.sql_store import SqlStore

    folder = Path(tempfile.mkdtemp(prefix="legato-latency-"))
    (folder / "pipelines.py").write_text(PIPELINE)
    settings = lg.Settings(home=folder / ".legato")
    defs = lg.load(str(folder / "pipelines.py"))
    stop = threading.Event()
    ended: list[str] = []

    def on_end(end: object) -> None:
        ended.append(end.run_id)  # type: ignore[attr-defined]
        if len(ended) >= ticks + 1:
            stop.set()

    server = Server(settings, defs, on_run_end=on_end)
    thread = threading.Thread(target=server.run, args=(stop,))
    thread.start()
    thread.join(ticks * 2 + 30)
    stop.set()
    thread.join()
    latencies = []
    with SqlStore(settings.store_url) as store:
        for run in store.list_runs(limit=ticks + 10):
            if not run.idempotency_key or run.status != "succeeded":
                continue
            tick = parse_instant(run.idempotency_key.rpartition("@")[2]).timestamp()
            steps = store.get_steps(run.run_id)
            started = min(s.started_at for s in steps if s.started_at is not None)
            latencies.append((started - tick) * 1000)
    return sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    latencies = measure(args.ticks)
    if not latencies:
        sys.exit("no scheduled run succeeded: see the runs in the temporary store")
    figures = {"ticks": len(latencies), "p50_ms": statistics.median(latencies),
               "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
               "max_ms": max(latencies), "seconds": time.monotonic() - started}
    if args.json:
        print(json.dumps(figures))
        return
    print(f"tick -> first step, SQLite, {figures['ticks']} ticks: p50 "
          f"{figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, max "
          f"{figures['max_ms']:.1f} ms (target: 100 ms)")


if __name__ == "__main__":
    main()
