"""The scheduler's cost per pass with many schedules, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/scheduler_tick.py                  # 1,000 schedules
    .venv/bin/python benchmarks/scheduler_tick.py --schedules 5000 --repeat 5 --json

Three figures per store, each the median of ``--repeat`` passes (min-max in brackets),
with a clock the script moves (no sleeping):

- **first pass**: every schedule seen for the first time (one trigger row written each);
- **idle pass**: nothing due (the loop's steady state between ticks: one read of every
  trigger's state);
- **due pass**: every schedule due at once (each evaluated, its run enqueued and its
  cursor and tick saved: one transaction per schedule).

PostgreSQL: ``LEGATO_BENCH_POSTGRES_URL`` (default: the local ``test`` database), in a
fresh schema dropped afterwards; skipped with the reason if unreachable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

POSTGRES_URL = os.environ.get("LEGATO_BENCH_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def definitions(count: int) -> Any:
    import legato as lg

    @lg.flow
    def work(i: int = 0) -> int:
        return i

    schedules = [lg.schedule(work, lg.every("1m", params={"i": i}), name=f"s{i:05d}")
                 for i in range(count)]
    return lg.Definitions(flows=[work], schedules=schedules)


def measure(url: str, count: int, repeat: int) -> dict[str, Any]:
    from legato.daemon.scheduler import Scheduler
    from legato.scheduler.timezones import UTC
    from legato.settings import Settings

    defs = definitions(count)
    now = [dt.datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)]
    settings = Settings(database_url=url, home=Path(tempfile.gettempdir()))
    with Scheduler(settings, defs, clock=lambda: now[0]) as scheduler:

        def timed(step: Callable[[], Any]) -> float:
            start = time.perf_counter()
            step()
            return (time.perf_counter() - start) * 1000

        first = timed(scheduler.tick)
        idle, due = [], []
        for _ in range(repeat):
            now[0] += dt.timedelta(seconds=1)
            idle.extend(timed(scheduler.tick) for _ in range(5))
            now[0] += dt.timedelta(minutes=1)
            due.append(timed(lambda: _all_requested(scheduler.tick(), count)))
    return {"schedules": count, "first_ms": first, "idle_ms": _stats(idle),
            "due_ms": _stats(due), "due_ms_per_schedule": statistics.median(due) / count}


def _all_requested(report: Any, count: int) -> None:
    if report.requested != count:
        raise AssertionError(f"expected {count} runs, got {report.describe()}")


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def postgres() -> tuple[str | None, Callable[[], None], str]:
    """A fresh schema: (url, drop it, why not)."""
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(POSTGRES_URL)
        schema = f"legato_bench_{secrets.token_hex(4)}"
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    except Exception as error:
        return None, lambda: None, f"no PostgreSQL at {POSTGRES_URL}: {type(error).__name__}"

    def drop() -> None:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()

    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}", drop, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = measure(f"sqlite:///{folder}/legato.db", args.schedules,
                                    args.repeat)
    url, drop, why = postgres()
    if url is None:
        results["postgresql"] = {"skipped": why}
    else:
        try:
            results["postgresql"] = measure(url, args.schedules, args.repeat)
        finally:
            drop()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"scheduler pass with {args.schedules} schedules (median [min-max] of "
          f"{args.repeat})\n")
    print("| store | first pass | idle pass | due pass (all due) | per due schedule |")
    print("|---|---:|---:|---:|---:|")
    for store, found in results.items():
        if "skipped" in found:
            print(f"| {store} | skipped: {found['skipped']} | | | |")
            continue
        idle, due = found["idle_ms"], found["due_ms"]
        print(f"| {store} | {found['first_ms']:.0f} ms "
              f"| {idle['median']:.1f} ms [{idle['min']:.1f}-{idle['max']:.1f}] "
              f"| {due['median']:.0f} ms [{due['min']:.0f}-{due['max']:.0f}] "
              f"| {found['due_ms_per_schedule']:.2f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
