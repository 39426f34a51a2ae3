"""Leases, fencing, takeovers, resets, idempotency keys and group commit in the store, on
real SQLite and PostgreSQL (one suite, subclassed per backend)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from store_kit import (
    BackendSuite,
    Clock,
    OnPostgres,
    OnSqlite,
    actual_steps,
    all_events,
    count,
    ev,
    expected_steps,
    new_run_id,
    run_started,
    step_data,
    stored_value,
)

from legato.errors import IllegalTransition, LeaseLost
from legato.store import schema
from legato.store.records import Lease, RunStatus, StepStatus
from legato.store.sql_store import SqlStore

TTL = 30.0


class LeaseConformance(BackendSuite):
    @pytest.fixture
    def clock(self) -> Clock:
        return Clock(time.time() - 5)  # a few ticks stay in the past

    @staticmethod
    def leased_run(store: SqlStore, clock: Clock, owner: str = "host:1:aa",
                   **data: object) -> tuple[str, Lease]:
        run_id = new_run_id()
        started = run_started(run_id, clock())
        started.data.update(owner=owner, lease_s=TTL, **data)
        store.commit([started])
        return run_id, Lease(run_id, owner, 1, TTL)

    @staticmethod
    def take_over(store: SqlStore, clock: Clock, run_id: str, *, token: int = 2,
                  seen: float | None = None, owner: str = "host:2:bb") -> Lease:
        run = store.get_run(run_id)
        store.commit([ev(run_id, "run_resumed", clock(), owner=owner, token=token, lease_s=TTL,
                         previous_token=token - 1,
                         seen_expires_at=run.lease_expires_at if seen is None else seen)])
        return Lease(run_id, owner, token, TTL)

    # -- the lease a run starts with ----------------------------------------------------

    def test_a_run_starts_leased_to_its_owner(self, store: SqlStore, clock: Clock) -> None:
        run_id, _ = self.leased_run(store, clock, idempotency_key="nightly-1")
        run = store.get_run(run_id)
        assert (run.lease_owner, run.lease_token) == ("host:1:aa", 1)
        assert run.lease_expires_at == pytest.approx(run.created_at + TTL)
        assert run.idempotency_key == "nightly-1"
        assert store.find_run_by_idempotency_key("nightly-1") == run
        assert store.find_run_by_idempotency_key("nightly-2") is None

    def test_a_run_without_an_owner_has_no_lease(self, store: SqlStore, clock: Clock) -> None:
        run_id = new_run_id()
        store.commit([run_started(run_id, clock())])
        run = store.get_run(run_id)
        assert (run.lease_owner, run.lease_token, run.lease_expires_at) == (None, None, None)

    def test_an_idempotency_key_names_one_run(self, store: SqlStore, clock: Clock) -> None:
        self.leased_run(store, clock, idempotency_key="k")
        with pytest.raises(IllegalTransition, match="conflicts with a row already"):
            self.leased_run(store, clock, idempotency_key="k")
        assert count(store, schema.runs) == 1
        assert count(store, schema.events) == 1

    # -- fencing ----------------------------------------------------------------------------

    def test_the_holder_writes_until_its_lease_is_taken_over(self, store: SqlStore,
                                                              clock: Clock) -> None:
        run_id, first = self.leased_run(store, clock)
        store.defer(ev(run_id, "step_started", clock(), "a", 1, **step_data("a", 0)),
                    lease=first)
        store.commit([ev(run_id, "step_succeeded", clock(), "a", 1, value_id=f"{run_id}/a")],
                     values=[stored_value(f"{run_id}/a", clock())], lease=first)
        second = self.take_over(store, clock, run_id)
        events = count(store, schema.events)
        with pytest.raises(LeaseLost, match=f"run {run_id} was taken over by another process"):
            store.commit([ev(run_id, "step_started", clock(), "b", 1, **step_data("b", 1))],
                         values=[stored_value(f"{run_id}/b", clock())], lease=first)
        assert count(store, schema.events) == events  # nothing of it was written
        assert count(store, schema.stored_values) == 1
        store.commit([ev(run_id, "step_started", clock(), "b", 1, **step_data("b", 1))],
                     lease=second)
        run = store.get_run(run_id)
        assert (run.lease_owner, run.lease_token) == ("host:2:bb", 2)
        assert [e.kind for e in store.get_events(run_id)] == [
            "run_started", "step_started", "step_succeeded", "run_resumed", "step_started"]

    def test_a_rejected_write_is_logged(self, store: SqlStore, clock: Clock,
                                        caplog: pytest.LogCaptureFixture) -> None:
        run_id, first = self.leased_run(store, clock)
        self.take_over(store, clock, run_id)
        with caplog.at_level(logging.WARNING, "legato.store.writer"), \
                pytest.raises(LeaseLost):
            store.commit([ev(run_id, "run_succeeded", clock())], lease=first)
        assert f"run {run_id} was taken over by another process" in caplog.text
        assert store.get_run(run_id).status == RunStatus.RUNNING

    def test_deferred_events_of_a_lost_lease_are_dropped(self, store: SqlStore, clock: Clock,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
        run_id, first = self.leased_run(store, clock)
        second = self.take_over(store, clock, run_id)
        store.defer(ev(run_id, "step_started", clock(), "a", 1, **step_data("a", 0)),
                    lease=first)  # a late start from the former holder
        with caplog.at_level(logging.WARNING, "legato.store.writer"):
            store.commit([ev(run_id, "step_started", clock(), "b", 1, **step_data("b", 1))],
                         lease=second)  # the stale deferred start does not poison it
        assert "dropped a deferred event" in caplog.text
        assert [s.step_key for s in store.get_steps(run_id)] == ["b"]

    def test_an_ended_run_takes_no_more_writes(self, store: SqlStore, clock: Clock) -> None:
        run_id, lease = self.leased_run(store, clock)
        store.commit([ev(run_id, "run_succeeded", clock(), output_value_id=f"{run_id}/@out")],
                     values=[stored_value(f"{run_id}/@out", clock())], lease=lease)
        assert store.get_run(run_id).output_value_id == f"{run_id}/@out"
        with pytest.raises(LeaseLost):
            store.commit([ev(run_id, "step_started", clock(), "a", 1, **step_data("a", 0))],
                         lease=lease)
        with pytest.raises(LeaseLost):
            store.renew_lease(lease)

    # -- renewals and takeovers -------------------------------------------------------------

    def test_renewing_pushes_the_expiry_ahead(self, store: SqlStore, clock: Clock) -> None:
        run_id, lease = self.leased_run(store, clock)
        before = store.get_run(run_id).lease_expires_at or 0
        time.sleep(0.01)
        store.renew_lease(lease)
        assert (store.get_run(run_id).lease_expires_at or 0) > before
        assert lease.renewed_at > 0
        self.take_over(store, clock, run_id)
        with pytest.raises(LeaseLost):
            store.renew_lease(lease)

    def test_a_takeover_is_refused_if_the_holder_renewed_meanwhile(self, store: SqlStore,
                                                                   clock: Clock) -> None:
        run_id, lease = self.leased_run(store, clock)
        seen = store.get_run(run_id).lease_expires_at
        time.sleep(0.01)
        store.renew_lease(lease)
        with pytest.raises(IllegalTransition, match="run_resumed does not apply"):
            self.take_over(store, clock, run_id, seen=seen)
        with pytest.raises(IllegalTransition, match="run_resumed does not apply"):
            self.take_over(store, clock, run_id, token=3)  # it saw a token that is not current
        assert store.get_run(run_id).lease_token == 1
        store.commit([ev(run_id, "run_failed", clock(), error="x")], lease=lease)

    def test_two_takers_at_once_one_wins(self, url: str, store: SqlStore,
                                         clock: Clock) -> None:
        run_id, _ = self.leased_run(store, clock)
        seen = store.get_run(run_id).lease_expires_at
        outcomes: list[str] = []
        go = threading.Barrier(4)

        def take(owner: str) -> None:
            with SqlStore(url) as own:
                go.wait()
                try:
                    own.commit([ev(run_id, "run_resumed", time.time(), owner=owner, token=2,
                                   lease_s=TTL, previous_token=1, seen_expires_at=seen)])
                    outcomes.append(owner)
                except IllegalTransition:
                    outcomes.append("refused")

        threads = [threading.Thread(target=take, args=(f"h:{i}:x",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [o for o in outcomes if o != "refused"]
        assert len(winners) == 1 and len(outcomes) == 4
        assert store.get_run(run_id).lease_owner == winners[0]

    def test_expired_runs(self, store: SqlStore, clock: Clock) -> None:
        live, _ = self.leased_run(store, clock)
        expired, _ = self.leased_run(store, clock)
        ended, lease = self.leased_run(store, clock)
        store.commit([ev(ended, "run_succeeded", clock())], lease=lease)
        legacy = new_run_id()
        store.commit([run_started(legacy, clock())])
        later = time.time() + TTL + 60
        found = [r.run_id for r in store.list_expired_runs(later)]
        assert set(found) == {live, expired, legacy}
        assert [r.run_id for r in store.list_expired_runs(time.time())] == [legacy]
        assert len(store.list_expired_runs(later, limit=1)) == 1

    # -- resets ---------------------------------------------------------------------------------

    def test_a_finished_step_whose_value_is_lost_is_reset(self, store: SqlStore,
                                                          clock: Clock) -> None:
        run_id, lease = self.leased_run(store, clock)
        store.defer(ev(run_id, "step_started", clock(), "a", 1, **step_data("a", 0)),
                    lease=lease)
        store.commit([ev(run_id, "step_succeeded", clock(), "a", 1, value_id=f"{run_id}/a")],
                     values=[stored_value(f"{run_id}/a", clock())], lease=lease)
        store.commit([ev(run_id, "step_reset", clock(), "a", 1, reason="its value is gone")],
                     lease=lease)
        (step,) = store.get_steps(run_id)
        assert (step.status, step.value_id, step.reason) == (StepStatus.RETRYING, None,
                                                              "its value is gone")
        store.defer(ev(run_id, "step_started", clock(), "a", 2, **step_data("a", 0)),
                    lease=lease)
        store.commit([ev(run_id, "step_succeeded", clock(), "a", 2,
                         value_id=f"{run_id}/a@2")],
                     values=[stored_value(f"{run_id}/a@2", clock())], lease=lease)
        (step,) = store.get_steps(run_id)
        assert (step.status, step.attempts, step.value_id) == ("succeeded", 2, f"{run_id}/a@2")
        assert actual_steps(store, [run_id]) == expected_steps(all_events(store))
        with pytest.raises(IllegalTransition, match="step_reset does not apply"):
            store.commit([ev(run_id, "step_reset", clock(), "b", 1, reason="never ran")])

    # -- group commit -----------------------------------------------------------------------

    def test_concurrent_commits_share_transactions(self, store: SqlStore, clock: Clock
                                                   ) -> None:
        run_id, lease = self.leased_run(store, clock)
        writer = store.writer
        errors: list[BaseException] = []

        def step(i: int) -> None:
            try:
                key = f"s{i}"
                store.defer(ev(run_id, "step_started", time.time(), key, 1,
                               **step_data(key, i)), lease=lease)
                store.commit([ev(run_id, "step_succeeded", time.time(), key, 1,
                                 value_id=f"{run_id}/{key}")],
                             values=[stored_value(f"{run_id}/{key}", time.time())],
                             lease=lease)
                if i == 7:  # a bad request: its step already succeeded
                    store.commit([ev(run_id, "step_succeeded", time.time(), key, 1,
                                     value_id="again")], lease=lease)
            except IllegalTransition as error:
                errors.append(error)

        with writer._lock:  # hold the writer: every thread queues up behind it
            threads = [threading.Thread(target=step, args=(i,)) for i in range(16)]
            for thread in threads:
                thread.start()
            time.sleep(0.3)
        for thread in threads:
            thread.join()
        assert writer.groups >= 1
        assert len(errors) == 1 and "does not apply" in str(errors[0])
        steps = store.get_steps(run_id)
        assert len(steps) == 16 and {s.status for s in steps} == {StepStatus.SUCCEEDED}
        assert actual_steps(store, [run_id]) == expected_steps(all_events(store))

    def test_a_lost_lease_in_a_group_rejects_only_its_own_request(self, store: SqlStore,
                                                                  clock: Clock) -> None:
        lost_run, lost = self.leased_run(store, clock)
        kept_run, kept = self.leased_run(store, clock, owner="host:3:cc")
        self.take_over(store, clock, lost_run)
        outcome: dict[str, str] = {}

        def write(run_id: str, lease: Lease) -> None:
            try:
                store.commit([ev(run_id, "step_started", time.time(), "x", 1,
                                 **step_data("x", 0))], lease=lease)
                outcome[run_id] = "ok"
            except LeaseLost:
                outcome[run_id] = "lost"

        with store.writer._lock:
            threads = [threading.Thread(target=write, args=args)
                       for args in [(lost_run, lost), (kept_run, kept)]]
            for thread in threads:
                thread.start()
            time.sleep(0.2)
        for thread in threads:
            thread.join()
        assert outcome == {lost_run: "lost", kept_run: "ok"}
        assert [s.step_key for s in store.get_steps(kept_run)] == ["x"]
        assert store.get_steps(lost_run) == []


class TestSqliteLeases(OnSqlite, LeaseConformance):
    pass


class TestPostgresLeases(OnPostgres, LeaseConformance):
    pass
