"""The store's ports (``store/ports.py``), on SQLite and the real PostgreSQL: the store
implements each, says what its database can do, and every state change outside a run (a
trigger paused or resumed, a backfill canceled, the daemon's lease taken or lost) is an
event in the log."""

from __future__ import annotations

import threading
import time

import pytest
from store_kit import BackendSuite, OnPostgres, OnSqlite, new_run_id, stored_value

from legato.store.backfills import BackfillRecord, BackfillStatus
from legato.store.events import (
    DaemonAcquired,
    DaemonLost,
    EventKind,
    RunTarget,
    payload_of,
)
from legato.store.ports import BackfillStore, QueueStore, RunStore, TriggerStore
from legato.store.queue import queued_event
from legato.store.records import Event, RunStatus
from legato.store.sql_store import SqlStore


def queued(target: str = "nightly", **extra: object) -> Event:
    return queued_event(new_run_id(), kind="flow", target=target, params={},
                        source="module:pipelines", **extra)  # type: ignore[arg-type]


def outside(store: RunStore, subject: str) -> list[tuple[str, dict[str, object]]]:
    return [(e.kind, e.data) for e in store.events_outside_runs(subject=subject)]


class PortsConformance(BackendSuite):
    def test_the_store_implements_every_port(self, store: SqlStore) -> None:
        for port in (RunStore, QueueStore, TriggerStore, BackfillStore):
            assert isinstance(store, port)

    def test_capabilities_follow_the_database(self, store: SqlStore) -> None:
        can = store.capabilities
        postgres = store.dialect == "postgresql"
        assert (can.listen_notify, can.skip_locked, can.concurrent_schedulers) == (
            postgres, postgres, postgres)
        assert 0 < can.idle_poll_max_s <= 0.1

    def test_a_worker_is_woken_when_the_database_can(self, store: SqlStore) -> None:
        wake = threading.Event()
        stop = store.listen_for_queued(wake)
        if not store.capabilities.listen_notify:
            assert stop is None
            return
        assert stop is not None
        try:
            deadline = time.monotonic() + 10
            while not wake.is_set() and time.monotonic() < deadline:
                store.enqueue([queued()])  # until the listener is connected
                wake.wait(0.2)
            assert wake.is_set()
        finally:
            stop()

    def test_queue_through_the_port(self, store: QueueStore) -> None:
        low, high = queued(priority=0), queued(priority=3)
        assert store.enqueue([low, high]) == [True, True]
        assert [r.run_id for r in store.queued_runs()] == [high.run_id, low.run_id]
        (claimed,) = store.claim("worker-1", 30.0)
        assert claimed.run_id == high.run_id and claimed.status == RunStatus.RUNNING
        assert [r.run_id for r in store.queued_runs()] == [low.run_id]

    def test_pausing_and_resuming_a_trigger_are_events(self, store: SqlStore) -> None:
        store.set_paused("schedule:nightly", True)
        assert store.read_triggers()["schedule:nightly"].paused
        store.set_paused("schedule:nightly", False)
        assert not store.read_triggers()["schedule:nightly"].paused
        assert outside(store, "schedule:nightly") == [
            (EventKind.TRIGGER_PAUSED, {"trigger_key": "schedule:nightly"}),
            (EventKind.TRIGGER_RESUMED, {"trigger_key": "schedule:nightly"})]

    def test_daemon_leadership_is_events(self, store: SqlStore) -> None:
        assert store.hold_daemon("scheduler", "a", 60.0)
        assert store.hold_daemon("scheduler", "a", 60.0)  # a renewal: no event
        assert not store.hold_daemon("scheduler", "b", 60.0)
        store.release_daemon("scheduler", "b")  # not its holder: nothing happens
        assert store.daemon_holder("scheduler") is not None
        assert store.hold_daemon("scheduler", "c", 0.0) is False
        store.release_daemon("scheduler", "a")
        assert store.hold_daemon("scheduler", "b", 0.0)  # expires at once
        assert store.hold_daemon("scheduler", "c", 60.0)  # takes the expired lease over
        changes = [payload_of(e) for e in store.events_outside_runs(subject="scheduler")]
        assert changes == [
            DaemonAcquired(role="scheduler", owner="a", ttl=60.0),
            DaemonLost(role="scheduler", owner="a", reason="released"),
            DaemonAcquired(role="scheduler", owner="b", ttl=0.0),
            DaemonLost(role="scheduler", owner="b", reason="expired", successor="c"),
            DaemonAcquired(role="scheduler", owner="c", previous_owner="b", ttl=60.0),
        ]

    def test_canceling_a_backfill_is_an_event(self, store: SqlStore) -> None:
        backfill_id = new_run_id()
        store.create_backfill(BackfillRecord(
            backfill_id=backfill_id, kind="assets", target="regional",
            spec={"selection": ["regional"], "keys": ["eu", "us"]},
            status=BackfillStatus.RUNNING, max_concurrent=2, total=2, cursor=None,
            created_at=time.time()))
        requests = [queued("regional", partition_key=key, backfill_id=backfill_id)
                    for key in ("eu", "us")]
        assert store.enqueue_partitions(backfill_id, None, "us", requests)
        assert store.backfill_run_counts(backfill_id) == {"queued": 2}
        assert store.cancel_backfill(backfill_id, "not needed") == 2
        assert store.cancel_backfill(backfill_id, "again") is None
        assert store.get_backfill(backfill_id).status == BackfillStatus.CANCELED
        assert outside(store, backfill_id) == [(EventKind.BACKFILL_CANCELED, {
            "backfill_id": backfill_id, "reason": "not needed", "runs_canceled": 2})]
        assert store.backfill_run_counts(backfill_id) == {"canceled": 2}

    def test_events_outside_runs_page_by_id(self, store: SqlStore) -> None:
        for n in range(3):
            store.set_paused(f"sensor:{n}", True)
        first = store.events_outside_runs(limit=2)
        rest = store.events_outside_runs(after=first[-1].event_id or 0)
        assert [e.step_key for e in [*first, *rest]] == ["sensor:0", "sensor:1", "sensor:2"]

    def test_latest_materialization_ids(self, store: SqlStore) -> None:
        from store_kit import ev

        run_id = new_run_id()
        store.commit([ev(run_id, "run_started", time.time(), kind="assets", target="a,b")])
        for n, (key, at) in enumerate([("a", 1.0), ("a", 2.0), ("b", 3.0)]):
            value = stored_value(f"{run_id}/{n}", at)
            store.commit([ev(run_id, "asset_materialized", at, key, 1,
                             materialization_id=f"m{n}", asset_key=key, code_version="1",
                             data_version="d", value_id=value.value_id)], values=[value])
        assert store.latest_materialization_ids(["a", "b", "c"]) == {"a": "m1", "b": "m2"}
        assert store.latest_materialization_ids([]) == {}


class TestSqlitePorts(OnSqlite, PortsConformance):
    pass


class TestPostgresPorts(OnPostgres, PortsConformance):
    pass


@pytest.mark.parametrize(("kind", "keys", "text"), [
    ("assets", ["a", "b"], "a,b"),
    ("assets", [f"k{n}" for n in range(9)], "9 assets"),
])
def test_run_target_writes_and_reads_one_way(kind: str, keys: list[str], text: str) -> None:
    target = RunTarget.assets(keys)
    assert target.text == text
    assert RunTarget.read(kind, text, keys) == target
    if len(keys) <= 8:  # a run written before its selection was recorded
        assert RunTarget.read(kind, text, None) == target
    assert RunTarget.read("flow", "nightly") == RunTarget.flow("nightly")
