"""The run queue and trigger state in the store, on SQLite and the real PostgreSQL:
idempotent enqueueing, claim order, run limits, claims racing from several connections,
canceling a queued run, the trigger compare-and-set and the singleton daemon lease."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from store_kit import BackendSuite, OnPostgres, OnSqlite, all_events, new_run_id

from legato.errors import IllegalTransition
from legato.store import queue, triggers
from legato.store.records import Event, RunStatus
from legato.store.sql_store import SqlStore


def request(target: str = "nightly", *, key: str | None = None, priority: int = 0,
            tags: tuple[str, ...] = (), at: float | None = None) -> Event:
    return queue.queued_event(new_run_id(), kind="flow", target=target, params={"n": 1},
                              source="module:pipelines", idempotency_key=key,
                              priority=priority, tags=tags, at=at)


class QueueConformance(BackendSuite):
    def test_a_key_enqueues_one_run(self, store: SqlStore) -> None:
        first = request(key="schedule:nightly@2026-11-21T03:00:00Z")
        again = request(key="schedule:nightly@2026-11-21T03:00:00Z")
        other = request(key="schedule:nightly@2026-11-22T03:00:00Z")
        assert queue.enqueue(store, [first, again, other]) == [True, False, True]
        assert queue.enqueue(store, [again]) == [False]
        queued = store.list_runs(status=RunStatus.QUEUED)
        assert {r.run_id for r in queued} == {first.run_id, other.run_id}
        assert all(r.tags == ["flow:nightly"] and r.lease_owner is None for r in queued)
        kinds = Counter(e.kind for e in all_events(store))
        assert kinds["run_queued"] == 2  # the refused request left no event behind

    def test_a_run_id_taken_is_an_error_not_a_duplicate(self, store: SqlStore) -> None:
        first = request(key="manual:a")
        queue.enqueue(store, [first])
        clash = queue.queued_event(first.run_id, kind="flow", target="nightly", params={},
                                   source=None, idempotency_key="manual:b")
        other = request(key="manual:c")
        with pytest.raises(IllegalTransition):
            queue.enqueue(store, [other, clash])
        # nothing of the refused transaction was written, and the key is still free
        assert [r.run_id for r in store.list_runs()] == [first.run_id]
        assert queue.enqueue(store, [other]) == [True]

    def test_claims_by_priority_then_age(self, store: SqlStore) -> None:
        low_old = request(at=100.0)
        low_new = request(at=200.0)
        high = request(priority=5, at=300.0)
        queue.enqueue(store, [low_new, high, low_old])
        claimed = queue.claim(store, "w1", 30.0, limit=2)
        assert [r.run_id for r in claimed] == [high.run_id, low_old.run_id]
        assert all(r.status == RunStatus.RUNNING and r.lease_owner == "w1"
                   and r.lease_token == 1 for r in claimed)
        stored = store.get_run(high.run_id)
        assert stored.status == RunStatus.RUNNING and stored.lease_owner == "w1"
        assert stored.started_at is not None and stored.lease_expires_at is not None
        assert [r.run_id for r in queue.claim(store, "w2", 30.0, limit=5)] == [low_new.run_id]
        assert queue.claim(store, "w2", 30.0, limit=5) == []

    def test_limits_hold_across_claims(self, store: SqlStore) -> None:
        queue.enqueue(store, [request("a", tags=("warehouse",)) for _ in range(4)]
                      + [request("b") for _ in range(4)])
        limits = queue.RunLimits(max_runs=5, tags={"warehouse": 2, "flow:b": 1})
        first = queue.claim(store, "w1", 30.0, limit=10, limits=limits)
        assert Counter(r.target for r in first) == {"a": 2, "b": 1}
        assert queue.claim(store, "w2", 30.0, limit=10, limits=limits) == []
        # a run ending frees its place
        done = first[0]
        store.commit([Event(done.run_id, None, None, "run_succeeded", time.time(), {})])
        again = queue.claim(store, "w2", 30.0, limit=10, limits=limits)
        assert [r.target for r in again] == [done.target]
        total = queue.claim(store, "w3", 30.0, limit=10, limits=queue.RunLimits(max_runs=4))
        assert len(total) == 1  # 3 still running, 4 at most

    def test_racing_claimers_take_each_run_once(self, url: str, store: SqlStore) -> None:
        runs = [request() for _ in range(300)]
        queue.enqueue(store, runs)
        taken: list[str] = []
        lock = threading.Lock()

        def worker(name: str) -> None:
            with SqlStore(url) as mine:
                while True:
                    got = queue.claim(mine, name, 30.0, limit=7)
                    if not got:
                        return
                    with lock:
                        taken.extend(r.run_id for r in got)

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(taken) == sorted(r.run_id for r in runs)
        claims = Counter(e.run_id for e in all_events(store) if e.kind == "run_claimed")
        assert set(claims.values()) == {1} and len(claims) == 300

    def test_a_queued_run_can_be_canceled_until_claimed(self, store: SqlStore) -> None:
        taken, waiting = request(at=100.0), request(at=200.0)
        queue.enqueue(store, [waiting, taken])
        assert [r.run_id for r in queue.claim(store, "w1", 30.0, limit=1)] == [taken.run_id]
        cancel = [Event(r.run_id, None, None, "run_canceled", time.time(),
                        {"queued": True, "error": "canceled by the user"})
                  for r in (waiting, taken)]
        store.commit([cancel[0]])
        assert store.get_run(waiting.run_id).status == RunStatus.CANCELED
        with pytest.raises(IllegalTransition):
            store.commit([cancel[1]])  # a worker has it: it is no longer queued
        assert store.get_run(taken.run_id).status == RunStatus.RUNNING

    def test_claim_does_not_take_a_canceled_run(self, store: SqlStore) -> None:
        run = request()
        queue.enqueue(store, [run])
        store.commit([Event(run.run_id, None, None, "run_canceled", time.time(),
                            {"queued": True})])
        assert queue.claim(store, "w1", 30.0, limit=1) == []

    # -- triggers -----------------------------------------------------------------------

    def test_one_of_two_evaluations_of_a_state_is_saved(self, store: SqlStore) -> None:
        key = "schedule:nightly"
        assert triggers.read_triggers(store) == {}
        tick = triggers.TickRecord(trigger_key=key, tick_key="2026-11-21T03:00:00Z",
                                   at=1.0, status="requested")
        run = request(key=f"{key}@2026-11-21T03:00:00Z")
        assert triggers.save_evaluation(store, key, None, cursor="c1", requests=[run],
                                        ticks=[tick]) == [True]
        # a second scheduler evaluated the same (absent) state: its save is refused whole
        twin = request(key=f"{key}@2026-11-21T04:00:00Z")
        assert triggers.save_evaluation(store, key, None, cursor="c2", requests=[twin],
                                        ticks=[tick]) is None
        state = triggers.read_triggers(store)[key]
        assert (state.cursor, state.version, state.paused) == ("c1", 1, False)
        assert [r.run_id for r in store.list_runs(status=RunStatus.QUEUED)] == [run.run_id]
        # from the saved state, a tick whose run exists is recorded as skipped
        again = request(key=f"{key}@2026-11-21T03:00:00Z")
        assert triggers.save_evaluation(store, key, state, cursor="c1", requests=[again],
                                        ticks=[tick]) == [False]
        history = triggers.list_ticks(store, key)
        assert [(t.status, t.run_id) for t in history] == [
            ("skipped", None), ("requested", run.run_id)]
        assert triggers.read_triggers(store)[key].version == 2

    def test_pausing_bumps_the_version(self, store: SqlStore) -> None:
        triggers.set_paused(store, "sensor:files", True)
        paused = triggers.read_triggers(store)["sensor:files"]
        assert paused.paused and paused.cursor is None
        triggers.set_paused(store, "sensor:files", False)
        resumed = triggers.read_triggers(store)["sensor:files"]
        assert not resumed.paused and resumed.version == paused.version + 1
        # an evaluation made before the resume is not saved over it
        assert triggers.save_evaluation(store, "sensor:files", paused, cursor="x") is None

    def test_a_daemon_role_is_held_by_one_owner_until_it_expires(
            self, store: SqlStore) -> None:
        assert triggers.hold_daemon(store, "scheduler", "a", 0.5)
        assert not triggers.hold_daemon(store, "scheduler", "b", 0.5)
        assert triggers.hold_daemon(store, "scheduler", "a", 0.5)  # renewed
        holder = triggers.daemon_holder(store, "scheduler")
        assert holder is not None and holder[0] == "a"
        time.sleep(0.6)
        assert triggers.hold_daemon(store, "scheduler", "b", 5.0)  # expired: taken
        assert not triggers.hold_daemon(store, "scheduler", "a", 5.0)
        triggers.release_daemon(store, "scheduler", "a")  # not its own: no effect
        assert triggers.daemon_holder(store, "scheduler")[0] == "b"  # type: ignore[index]
        triggers.release_daemon(store, "scheduler", "b")
        assert triggers.daemon_holder(store, "scheduler") is None


class TestSqliteQueue(OnSqlite, QueueConformance):
    pass


class TestPostgresQueue(OnPostgres, QueueConformance):
    pass
