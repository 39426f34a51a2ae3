"""Write ``store_0003.db``: a store written by schema revision 0003 (the code as it was
before typed events and store ports), kept as a compatibility fixture.

Run once, with the legato of that revision, from the repository's root:
``python tests/store/compat/make_store_0003.py``. It holds every kind of row the store
had then: runs (succeeded, failed, queued), steps with retries, logs, materializations of
plain and partitioned assets, triggers (one paused) with ticks, and a backfill with its
queued runs. ``test_store_0003.py`` opens a copy, migrates it to HEAD and reads it back.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

import legato as lg
from legato.settings import Settings
from legato.store.backfills import (
    BackfillRecord,
    BackfillStatus,
    create_backfill,
    enqueue_partitions,
)
from legato.store.queue import enqueue, queued_event
from legato.store.sql_store import SqlStore
from legato.store.triggers import TickRecord, save_evaluation, set_paused

HERE = Path(__file__).parent
TARGET = HERE / "store_0003.db"
T0 = 1_700_000_000.0

attempts: dict[str, int] = {}


@lg.asset
def raw() -> list[int]:
    print("raw: three rows")
    return [1, 2, 3]


@lg.asset(retries=lg.Retry(2))
def doubled(raw: list[int]) -> list[int]:
    attempts["doubled"] = attempts.get("doubled", 0) + 1
    if attempts["doubled"] == 1:
        raise RuntimeError("first attempt fails on purpose")
    return [2 * x for x in raw]


@lg.asset(partitions=lg.StaticPartitions(["eu", "us"]))
def regional(ctx: lg.StepContext) -> dict[str, str]:
    print(f"computing {ctx.partition_key}")
    return {"region": str(ctx.partition_key)}


@lg.task(retries=lg.Retry(1))
def flaky(n: int) -> int:
    attempts["flaky"] = attempts.get("flaky", 0) + 1
    if attempts["flaky"] == 1:
        raise ValueError("flaky once")
    return n + 1


@lg.task
def broken() -> None:
    raise KeyError("always broken")


@lg.flow
def nightly(n: int = 1) -> int:
    return flaky(n) + flaky(n + 10)


@lg.flow
def failing() -> None:
    broken()


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{Path(home) / 'legato.db'}"
        settings = Settings(home=Path(home), database_url=url, executor="inline")
        assets = [raw, doubled, regional]
        lg.materialize(assets, ["raw", "doubled"], settings=settings)
        for region in ("eu", "us"):
            lg.materialize(assets, ["regional"], partition=region, settings=settings)
        lg.run(nightly, n=5, settings=settings)
        lg.run(failing, settings=settings)
        with SqlStore(url) as store:
            request = queued_event("a" * 32, kind="flow", target="nightly", params={"n": 7},
                                   source="module:compat", trigger_key="schedule:nightly",
                                   idempotency_key="schedule:nightly@1700003600",
                                   at=T0 + 3600,
                                   logical={"scheduled_at": T0 + 3600, "ds": "2023-11-14"})
            save_evaluation(store, "schedule:nightly", None, cursor="1700003600",
                            requests=[request],
                            ticks=[TickRecord(trigger_key="schedule:nightly",
                                              tick_key="1700003600", at=T0 + 3600,
                                              status="requested"),
                                   TickRecord(trigger_key="schedule:nightly",
                                              tick_key="1700000000", at=T0,
                                              status="skipped", detail="catch-up policy")])
            set_paused(store, "sensor:files", True)
            enqueue(store, [queued_event("b" * 32, kind="assets", target="raw,doubled",
                                         params={}, source="module:compat", priority=5,
                                         selection=["raw", "doubled"], at=T0 + 10)])
            create_backfill(store, BackfillRecord(
                backfill_id="c" * 32, kind="assets", target="regional",
                spec={"selection": ["regional"], "keys": ["eu", "us"], "params": {},
                      "source": "module:compat"},
                status=BackfillStatus.RUNNING, max_concurrent=2, total=2, cursor=None,
                created_at=T0 + 20))
            enqueue_partitions(store, "c" * 32, None, "us", [
                queued_event(f"{key}{'d' * 30}", kind="assets", target="regional",
                             params={}, source="module:compat", partition_key=key,
                             trigger_key=f"backfill:{'c' * 32}", backfill_id="c" * 32,
                             idempotency_key=f"backfill:{'c' * 32}@{key}",
                             selection=["regional"], at=T0 + 21)
                for key in ("eu", "us")])
        # one self-contained file: the WAL folded in, rollback journal mode
        db = sqlite3.connect(Path(home) / "legato.db")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("VACUUM")
        db.close()
        TARGET.write_bytes((Path(home) / "legato.db").read_bytes())
    print(f"wrote {TARGET}", file=sys.stderr)


if __name__ == "__main__":
    main()
