"""The store conformance suite: the same tests against every backend, on real databases.

``StoreConformance`` holds the tests; each backend subclasses it once and provides ``url``
(Dagster's ``TestRunStorage`` pattern). A new backend passes this suite or is not done.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from pathlib import Path
from typing import Any

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

from legato.errors import IllegalTransition, RunNotFoundError, StoreError
from legato.store import schema
from legato.store.records import LogLine, RunStatus, StepStatus
from legato.store.sql_store import SqlStore
from legato.store.writer import DEFER_S


class StoreConformance(BackendSuite):
    """Every test here runs once per backend. Subclasses define the ``url`` fixture."""

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def start_run(store: SqlStore, clock: Clock, target: str = "nightly", **params: Any) -> str:
        run_id = new_run_id()
        store.commit([run_started(run_id, clock(), target, **params)])
        return run_id

    @staticmethod
    def succeed_step(store: SqlStore, clock: Clock, run_id: str, step: str, seq: int, *,
                     cache_key: str | None = None) -> None:
        store.defer(ev(run_id, "step_started", clock(), step, 1, **step_data(step, seq)))
        store.commit([ev(run_id, "step_succeeded", clock(), step, 1,
                         value_id=f"{run_id}/{step}", cache_key=cache_key)])

    # -- the run lifecycle --------------------------------------------------------------

    def test_run_lifecycle_projects_its_events(self, store: SqlStore, clock: Clock) -> None:
        run_id = self.start_run(store, clock, day="2026-11-21")
        run = store.get_run(run_id)
        assert (run.status, run.kind, run.target) == (RunStatus.RUNNING, "flow", "nightly")
        assert run.params == {"day": "2026-11-21"}
        assert run.tags == ["x"] and run.source == "module:pipelines"
        assert run.ended_at is None and run.duration is None

        for seq, step in enumerate(["extract", "load"]):
            self.succeed_step(store, clock, run_id, step, seq)
        store.commit([ev(run_id, "run_succeeded", clock(), error=None)])

        run = store.get_run(run_id)
        assert run.status == RunStatus.SUCCEEDED
        assert run.ended_at == clock.now and run.duration == clock.now - run.created_at
        steps = store.get_steps(run_id)
        assert [s.step_key for s in steps] == ["extract", "load"]
        for step in steps:
            assert step.status == StepStatus.SUCCEEDED
            assert step.attempts == 1
            assert step.value_id == f"{run_id}/{step.step_key}"
            assert step.duration == 1.0
            assert step.error is None and step.upstream == [] and step.tags == ["t"]
        kinds = [e.kind for e in store.get_events(run_id)]
        assert kinds == ["run_started", "step_started", "step_succeeded", "step_started",
                         "step_succeeded", "run_succeeded"]
        ids = [e.event_id for e in store.get_events(run_id)]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)

    @pytest.mark.parametrize("status", ["failed", "canceled"])
    def test_run_ends_failed_or_canceled_with_its_error(
        self, store: SqlStore, clock: Clock, status: str
    ) -> None:
        run_id = self.start_run(store, clock)
        store.commit([ev(run_id, f"run_{status}", clock(), error="step 'load' failed")])
        run = store.get_run(run_id)
        assert run.status == status and run.error == "step 'load' failed"

    def test_step_retry_path(self, store: SqlStore, clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        data = step_data("fetch", 0)
        first_start = clock()
        store.defer(ev(run_id, "step_started", first_start, "fetch", 1, **data))
        store.commit([ev(run_id, "step_failed", clock(), "fetch", 1, error="IOError: flaky",
                         traceback="Traceback ...", next="retry", retry_in=0.5)])
        step = store.get_steps(run_id)[0]
        assert step.status == StepStatus.RETRYING
        assert (step.attempts, step.error, step.ended_at) == (1, "IOError: flaky", None)

        store.defer(ev(run_id, "step_started", clock(), "fetch", 2, **data))
        store.writer.flush()
        step = store.get_steps(run_id)[0]
        # started_at stays at the first attempt: a step's time spans all its attempts
        assert (step.status, step.attempts, step.started_at) == (StepStatus.RUNNING, 2,
                                                                 first_start)
        store.commit([ev(run_id, "step_succeeded", clock(), "fetch", 2,
                         value_id=f"{run_id}/fetch", cache_key=None)])
        step = store.get_steps(run_id)[0]
        assert (step.status, step.attempts, step.error) == (StepStatus.SUCCEEDED, 2, None)
        assert step.duration == clock.now - first_start
        assert step.traceback == "Traceback ..."  # kept from the failed attempt

    def test_legacy_will_retry_flag_still_means_retry(self, store: SqlStore,
                                                      clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        store.commit([ev(run_id, "step_started", clock(), "s", 1, **step_data("s", 0)),
                      ev(run_id, "step_failed", clock(), "s", 1, error="E", will_retry=True)])
        assert store.get_steps(run_id)[0].status == StepStatus.RETRYING

    def test_failure_for_good(self, store: SqlStore, clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        store.commit([ev(run_id, "step_started", clock(), "s", 1, **step_data("s", 0)),
                      ev(run_id, "step_failed", clock(), "s", 1, error="ValueError: bad",
                         next="fail")])
        step = store.get_steps(run_id)[0]
        assert (step.status, step.ended_at, step.error) == (StepStatus.FAILED, clock.now,
                                                            "ValueError: bad")

    def test_fallback_after_failure_in_one_transaction(self, store: SqlStore,
                                                       clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        store.defer(ev(run_id, "step_started", clock(), "model", 1, **step_data("model", 0)))
        before = count(store, schema.events)
        store.commit([
            ev(run_id, "step_failed", clock(), "model", 1, error="ValueError: corrupt",
               next="fallback"),
            ev(run_id, "step_fallback", clock(), "model", 1, **step_data("model", 0),
               reason="failed after 1 attempt; serving the last good value",
               value_id="older/model", started_at=clock.now - 2),
        ], values=[stored_value(f"{run_id}/model", clock.now)])
        assert count(store, schema.events) == before + 3  # the deferred start came along
        step = store.get_steps(run_id)[0]
        assert step.status == StepStatus.FALLBACK
        assert step.reason == "failed after 1 attempt; serving the last good value"
        assert step.value_id == "older/model"
        assert step.error == "ValueError: corrupt"
        assert step.attempts == 1 and step.ended_at == clock.now

    @pytest.mark.parametrize("status", ["skipped", "canceled", "cached"])
    def test_steps_settle_without_an_attempt(self, store: SqlStore, clock: Clock,
                                             status: str) -> None:
        run_id = self.start_run(store, clock)
        store.commit([ev(run_id, f"step_{status}", clock(), "s", None, **step_data("s", 3),
                         reason=f"because {status}", value_id="v" if status == "cached" else None,
                         cache_key="k" if status == "cached" else None)])
        step = store.get_steps(run_id)[0]
        assert step.status == status and step.reason == f"because {status}"
        assert (step.seq, step.attempts, step.ended_at) == (3, 0, clock.now)
        assert step.started_at == clock.now
        if status == "cached":
            assert (step.value_id, step.cache_key) == ("v", "k")

    def test_a_running_step_can_be_canceled(self, store: SqlStore, clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        store.commit([ev(run_id, "step_started", clock(), "s", 1, **step_data("s", 0))])
        store.commit([ev(run_id, "step_canceled", clock(), "s", 1, **step_data("s", 0),
                         reason="the run was canceled")])
        step = store.get_steps(run_id)[0]
        assert (step.status, step.attempts) == (StepStatus.CANCELED, 1)

    # -- the gate refuses what does not apply, and keeps nothing of it --------------------

    ILLEGAL: dict[str, Any] = {
        "succeed a step never started": lambda r, t: [
            ev(r, "step_succeeded", t(), "ghost", 1, value_id="v")],
        "succeed a step twice": lambda r, t: [
            ev(r, "step_succeeded", t(), "done", 1, value_id="v")],
        "fail a finished step": lambda r, t: [ev(r, "step_failed", t(), "done", 1, error="E")],
        "start a finished step again": lambda r, t: [
            ev(r, "step_started", t(), "done", 2, **step_data("done", 0))],
        "skip a finished step": lambda r, t: [
            ev(r, "step_skipped", t(), "done", None, **step_data("done", 0), reason="x")],
        "finish the run twice": lambda r, t: [ev(r, "run_succeeded", t()),
                                              ev(r, "run_failed", t(), error="again")],
        "finish an unknown run": lambda r, t: [ev(new_run_id(), "run_succeeded", t())],
        "start the run twice": lambda r, t: [run_started(r, t())],
        "unknown event kind": lambda r, t: [ev(r, "step_teleported", t(), "done", 1)],
        "materialize twice under one id": lambda r, t: [
            ev(r, "asset_materialized", t(), "done", 1, materialization_id="m1",
               asset_key="a", code_version="c", data_version="d", value_id="v")],
    }

    @pytest.mark.parametrize("case", list(ILLEGAL))
    def test_illegal_transition_leaves_nothing_behind(self, store: SqlStore, clock: Clock,
                                                      case: str) -> None:
        run_id = self.start_run(store, clock)
        self.succeed_step(store, clock, run_id, "done", 0)
        store.commit([ev(run_id, "asset_materialized", clock(), "done", 1,
                         materialization_id="m1", asset_key="a", code_version="c",
                         data_version="d", value_id="v")])
        tables = [schema.events, schema.runs, schema.steps, schema.materializations,
                  schema.stored_values, schema.logs]
        before = {t.name: count(store, t) for t in tables}
        steps_before = store.get_steps(run_id)
        run_before = store.get_run(run_id)

        # Legal work in the same transaction must vanish with the illegal event.
        legal = [ev(run_id, "step_started", clock(), "fresh", 1, **step_data("fresh", 1))]
        with pytest.raises(IllegalTransition) as raised:
            store.commit([*legal, *self.ILLEGAL[case](run_id, clock)],
                         values=[stored_value(f"{run_id}/fresh", clock.now)],
                         log_lines=[LogLine(run_id, "fresh", 1, clock.now, "stdout", 20, "hi")])
        assert isinstance(raised.value, StoreError)
        assert {t.name: count(store, t) for t in tables} == before
        assert store.get_steps(run_id) == steps_before
        assert store.get_run(run_id) == run_before

        # The store is still usable, and the same legal work now commits.
        store.commit(legal)
        assert [s.step_key for s in store.get_steps(run_id)] == ["done", "fresh"]

    def test_illegal_transition_message_names_event_run_and_step(self, store: SqlStore,
                                                                 clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        with pytest.raises(IllegalTransition, match=f"step_succeeded does not apply to run "
                           f"{run_id} step 'ghost'"):
            store.commit([ev(run_id, "step_succeeded", clock(), "ghost", 1)])
        with pytest.raises(IllegalTransition, match="unknown event kind 'nonsense'"):
            store.commit([ev(run_id, "nonsense", clock())])

    def test_log_only_events_need_no_projection(self, store: SqlStore, clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        store.commit([ev(run_id, "run_log", clock(), message="hello"),
                      ev(run_id, "step_retry_scheduled", clock(), "s", 1, delay=1.0)])
        assert [e.kind for e in store.get_events(run_id)][1:] == ["run_log",
                                                                  "step_retry_scheduled"]
        assert store.get_events(run_id)[1].data == {"message": "hello"}

    # -- deferred events ----------------------------------------------------------------

    def test_deferred_event_is_written_with_the_next_commit(self, store: SqlStore,
                                                            clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        store.defer(ev(run_id, "step_started", clock(), "s", 1, **step_data("s", 0)))
        assert count(store, schema.events, run_id=run_id) == 1  # not yet
        store.commit([ev(run_id, "step_succeeded", clock(), "s", 1, value_id="v")])
        assert [e.kind for e in store.get_events(run_id)] == [
            "run_started", "step_started", "step_succeeded"]

    def test_deferred_event_is_flushed_in_the_background(self, store: SqlStore,
                                                         clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        deferred_at = time.monotonic()
        store.defer(ev(run_id, "step_started", clock(), "s", 1, **step_data("s", 0)))
        while count(store, schema.events, run_id=run_id) < 2:
            assert time.monotonic() - deferred_at < 2.0, "the deferred event was never written"
            time.sleep(0.01)
        waited = time.monotonic() - deferred_at
        assert DEFER_S * 0.9 <= waited <= DEFER_S + 0.45, f"flushed after {waited:.3f} s"
        assert store.get_steps(run_id)[0].status == StepStatus.RUNNING

    def test_a_failed_commit_keeps_the_deferred_event(self, store: SqlStore,
                                                      clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        store.defer(ev(run_id, "step_started", clock(), "s", 1, **step_data("s", 0)))
        with pytest.raises(IllegalTransition):
            store.commit([ev(run_id, "run_failed", clock()), ev(run_id, "run_failed", clock())])
        store.commit([ev(run_id, "step_succeeded", clock(), "s", 1, value_id="v")])
        assert store.get_steps(run_id)[0].status == StepStatus.SUCCEEDED

    def test_a_deferred_event_that_no_longer_applies_is_dropped(self, store: SqlStore,
                                                                clock: Clock) -> None:
        """A stale 'started' (its step settled meanwhile) must not poison later commits."""
        run_id = self.start_run(store, clock)
        self.succeed_step(store, clock, run_id, "done", 0)
        store.defer(ev(run_id, "step_started", clock(), "done", 2, **step_data("done", 0)))
        self.succeed_step(store, clock, run_id, "next", 1)
        store.commit([ev(run_id, "run_succeeded", clock())])
        kinds = [(e.kind, e.step_key) for e in store.get_events(run_id)]
        assert kinds.count(("step_started", "done")) == 1
        assert store.get_run(run_id).status == RunStatus.SUCCEEDED
        assert [s.status for s in store.get_steps(run_id)] == [StepStatus.SUCCEEDED] * 2

    def test_close_flushes_deferred_events(self, url: str, clock: Clock) -> None:
        with SqlStore(url) as store:
            run_id = self.start_run(store, clock)
            store.defer(ev(run_id, "step_started", clock(), "s", 1, **step_data("s", 0)))
        with SqlStore(url) as store:
            assert store.get_steps(run_id)[0].status == StepStatus.RUNNING

    def test_threads_commit_through_one_writer(self, store: SqlStore, clock: Clock) -> None:
        """The threads executor records steps from many threads at once."""
        errors: list[BaseException] = []
        made: list[str] = []
        barrier = threading.Barrier(8)

        def work() -> None:
            try:
                barrier.wait()
                for _ in range(25):
                    run_id = new_run_id()
                    store.commit([run_started(run_id, time.time())])
                    store.defer(ev(run_id, "step_started", time.time(), "s", 1,
                                   **step_data("s", 0)))
                    store.commit([ev(run_id, "step_succeeded", time.time(), "s", 1,
                                     value_id="v")])
                    store.commit([ev(run_id, "run_succeeded", time.time())])
                    made.append(run_id)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert count(store, schema.events) == 8 * 25 * 4
        assert count(store, schema.steps, status="succeeded") == 8 * 25
        assert {r.run_id for r in store.list_runs(status="succeeded", limit=1000)} == set(made)

    # -- logs ---------------------------------------------------------------------------

    def test_logs_per_step_in_order(self, store: SqlStore, clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        lines = []
        for i in range(30):
            step = "a" if i % 3 else "b"
            lines.append(LogLine(run_id, step, 1 + i // 20, clock(), "stdout" if i % 2 else
                                 "log", 20 + i % 2 * 10, f"line {i} ünïcode ✓"))
        store.commit([ev(run_id, "step_started", clock(), "a", 1, **step_data("a", 0))],
                     log_lines=lines[:10])
        store.commit([], log_lines=lines[10:])
        assert store.get_logs(run_id) == lines
        assert store.get_logs(run_id, "a") == [line for line in lines if line.step_key == "a"]
        assert store.get_logs(run_id, "b") == [line for line in lines if line.step_key == "b"]
        assert store.get_logs(run_id, "nope") == []
        assert store.get_logs(new_run_id()) == []

    # -- values and materializations ----------------------------------------------------

    def test_stored_values_round_trip(self, store: SqlStore, clock: Clock) -> None:
        run_id = self.start_run(store, clock)
        inline = stored_value(f"{run_id}/a", clock(), '{"big":' + "1" * 300_000 + "}")
        spilled = dataclasses.replace(stored_value(f"{run_id}/b", clock()), inline=None,
                                      uri="/values/x/b.parquet", format="parquet",
                                      type="polars", size=2**40)
        store.commit([], values=[inline, spilled])
        assert store.get_value(inline.value_id) == inline
        assert store.get_value(spilled.value_id) == spilled
        assert store.get_value("nope/x") is None

    def test_materializations(self, store: SqlStore, clock: Clock) -> None:
        assert store.latest_materialization("events") is None
        assert store.list_materializations("events") == []
        assert store.latest_materializations() == {}
        made = []
        for i in range(4):
            run_id = self.start_run(store, clock)
            for asset in ["events", "features"] if i < 3 else ["events"]:
                self.succeed_step(store, clock, run_id, asset, 0)
                store.commit([ev(
                    run_id, "asset_materialized", clock(), asset, 1,
                    materialization_id=f"{run_id}/{asset}", asset_key=asset,
                    code_version=f"c{i}", data_version=f"d{i}", value_id=f"{run_id}/{asset}",
                    upstream={"raw": "r/1"} if asset == "features" else {},
                    row_count=10 * i if asset == "events" else None,
                    columns={"user_id": "Int64"} if asset == "events" else None)])
                made.append((asset, run_id, clock.now))
        newest = store.latest_materialization("events")
        assert newest is not None
        assert newest.run_id == made[-1][1] and newest.created_at == made[-1][2]
        assert (newest.row_count, newest.columns) == (30, {"user_id": "Int64"})
        assert (newest.code_version, newest.data_version) == ("c3", "d3")
        assert newest.upstream == {} and newest.step_key == "events"

        listed = store.list_materializations("features")
        assert [m.run_id for m in listed] == [r for a, r, _ in reversed(made) if a == "features"]
        assert listed[0].upstream == {"raw": "r/1"} and listed[0].columns is None
        assert len(store.list_materializations("events", limit=2)) == 2

        latest = store.latest_materializations()
        assert set(latest) == {"events", "features"}
        assert latest["events"] == newest
        assert latest["features"] == listed[0]

    # -- finding runs -------------------------------------------------------------------

    def test_get_run_by_id_prefix_and_last(self, store: SqlStore, clock: Clock) -> None:
        ids = ["abc0" + "0" * 28, "abc1" + "0" * 28, "f00d" + "1" * 28]
        for run_id in ids:
            store.commit([run_started(run_id, clock())])
        assert store.get_run(ids[0]).run_id == ids[0]
        assert store.get_run("abc1").run_id == ids[1]
        assert store.get_run("f").run_id == ids[2]
        assert store.get_run("last").run_id == ids[2]
        assert store.get_run("latest").run_id == ids[2]
        with pytest.raises(RunNotFoundError, match="more than one run matches 'abc'") as many:
            store.get_run("abc")
        assert many.value.hint == "list runs with: legato runs"
        with pytest.raises(RunNotFoundError, match="no run matches 'zzz'"):
            store.get_run("zzz")
        for pattern in ["", "%", "_bc0", "abc%"]:  # LIKE wildcards are not wildcards here
            with pytest.raises(RunNotFoundError, match="no run"):
                store.get_run(pattern)

    def test_get_run_last_in_an_empty_store(self, store: SqlStore) -> None:
        with pytest.raises(RunNotFoundError, match="no run matches 'last'"):
            store.get_run("last")

    def test_list_runs_filters(self, store: SqlStore, clock: Clock) -> None:
        made = {}
        for i in range(6):
            target = "nightly" if i % 2 else "hourly"
            run_id = self.start_run(store, clock, target)
            made[run_id] = (target, clock.now)
            if i % 3 == 0:
                store.commit([ev(run_id, "run_failed", clock(), error="E")])
        newest_first = sorted(made, key=lambda r: made[r][1], reverse=True)
        assert [r.run_id for r in store.list_runs()] == newest_first
        assert [r.run_id for r in store.list_runs(limit=2)] == newest_first[:2]
        nightly = [r.run_id for r in store.list_runs(target="nightly")]
        assert nightly == [r for r in newest_first if made[r][0] == "nightly"]
        failed = store.list_runs(status="failed")
        assert len(failed) == 2 and all(r.status == RunStatus.FAILED for r in failed)
        assert len(store.list_runs(status="running")) == 4
        third = made[newest_first[2]][1]
        assert [r.run_id for r in store.list_runs(since=third)] == newest_first[:3]
        assert store.list_runs(target="hourly", status="failed", since=third) == [
            r for r in failed if r.target == "hourly" and r.created_at >= third]
        assert store.list_runs(target="nobody") == []

    # -- the cache ----------------------------------------------------------------------

    def test_find_cached_with_expiry(self, store: SqlStore, clock: Clock) -> None:
        assert store.find_cached("k1", None) is None
        old_run = self.start_run(store, clock)
        self.succeed_step(store, clock, old_run, "fetch", 0, cache_key="k1")
        old_end = clock.now
        new_run = self.start_run(store, clock)
        self.succeed_step(store, clock, new_run, "fetch", 0, cache_key="k1")
        new_end = clock.now
        failing = self.start_run(store, clock)
        store.commit([ev(failing, "step_started", clock(), "fetch", 1, **step_data("fetch", 0)),
                      ev(failing, "step_failed", clock(), "fetch", 1, error="E", next="fail")])

        assert store.find_cached("k1", None) == (new_run, f"{new_run}/fetch")
        assert store.find_cached("k1", old_end) == (new_run, f"{new_run}/fetch")
        assert store.find_cached("k1", new_end) == (new_run, f"{new_run}/fetch")
        assert store.find_cached("k1", new_end + 0.5) is None  # expired
        assert store.find_cached("k2", None) is None

    # -- closing ------------------------------------------------------------------------

    def test_writes_after_close_raise(self, url: str, clock: Clock) -> None:
        store = SqlStore(url)
        run_id = self.start_run(store, clock)
        store.close()
        with pytest.raises(StoreError, match="closed"):
            store.commit([ev(run_id, "run_succeeded", clock())])
        with pytest.raises(StoreError, match="closed"):
            store.defer(ev(run_id, "step_started", clock(), "s", 1, **step_data("s", 0)))
        store.close()  # closing twice is harmless
        with SqlStore(url) as again:
            assert again.get_run(run_id).status == RunStatus.RUNNING
            assert again.get_events(run_id)[-1].kind == "run_started"

    # -- the event log is the source of truth --------------------------------------------

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_projections_are_rebuilt_from_the_events_alone(
        self, store: SqlStore, clock: Clock, tmp_path: Path, seed: int
    ) -> None:
        run_ids = play_scenario(store, clock, random.Random(seed))
        events = all_events(store)

        # 1. What the rules say the steps must be, computed from the events in Python.
        assert actual_steps(store, run_ids) == expected_steps(events)

        # 2. Replaying the events one by one into an empty store rebuilds every projection.
        with SqlStore(f"sqlite:///{tmp_path / 'replayed.db'}") as fresh:
            for event in events:
                fresh.commit([dataclasses.replace(event, event_id=None)])
            for run_id in run_ids:
                assert fresh.get_run(run_id) == store.get_run(run_id)
                assert fresh.get_steps(run_id) == store.get_steps(run_id)
                assert [dataclasses.replace(e, event_id=None) for e in fresh.get_events(run_id)
                        ] == [dataclasses.replace(e, event_id=None)
                              for e in store.get_events(run_id)]
            assert fresh.latest_materializations() == store.latest_materializations()
            for asset in store.latest_materializations():
                assert fresh.list_materializations(asset) == store.list_materializations(asset)


def play_scenario(store: SqlStore, clock: Clock, rng: random.Random) -> list[str]:
    """Runs whose steps take random paths, committed the way the engine commits them, with
    illegal events thrown in (which the gate must refuse without a trace)."""
    run_ids = []
    for _ in range(6):
        run_id = new_run_id()
        run_ids.append(run_id)
        store.commit([run_started(run_id, clock(), rng.choice(["a", "b"]))])
        for seq in range(rng.randint(1, 6)):
            key = f"step[{seq}]"
            data = step_data(f"task{seq % 3}", seq, upstream=[f"step[{seq - 1}]"] if seq else [])
            path = rng.choice(["ok", "retry", "fail", "fallback", "skipped", "canceled",
                               "cached", "running"])
            if path in ("skipped", "cached"):
                store.commit([ev(run_id, f"step_{path}", clock(), key, None, **data,
                                 reason=path, value_id="old/v" if path == "cached" else None,
                                 cache_key="ck" if path == "cached" else None)])
                continue
            attempt = 1
            store.defer(ev(run_id, "step_started", clock(), key, attempt, **data))
            if path == "running":
                store.writer.flush()
                continue
            if path == "retry":
                for attempt in range(1, rng.randint(2, 4)):
                    store.commit([ev(run_id, "step_failed", clock(), key, attempt,
                                     error=f"E{attempt}", traceback="tb", next="retry")])
                    store.defer(ev(run_id, "step_started", clock(), key, attempt + 1, **data))
                attempt += 1
            if path in ("ok", "retry"):
                value_id = f"{run_id}/{key}"
                batch = [ev(run_id, "step_succeeded", clock(), key, attempt, value_id=value_id,
                            cache_key=rng.choice([None, "ck"]))]
                if rng.random() < 0.5:
                    batch.append(ev(run_id, "asset_materialized", clock.now, key, attempt,
                                    materialization_id=value_id, asset_key=data["name"],
                                    code_version="c", data_version=str(rng.random()),
                                    value_id=value_id, row_count=rng.randint(0, 9)))
                store.commit(batch, values=[stored_value(value_id, clock.now)])
            elif path == "fail":
                store.commit([ev(run_id, "step_failed", clock(), key, attempt, error="boom",
                                 next="fail")])
            elif path == "fallback":
                store.commit([ev(run_id, "step_failed", clock(), key, attempt, error="boom",
                                 next="fallback"),
                              ev(run_id, "step_fallback", clock(), key, attempt, **data,
                                 reason="last good", value_id="old/v", started_at=clock.now)])
            elif path == "canceled":
                store.commit([ev(run_id, "step_canceled", clock(), key, attempt, **data,
                                 reason="canceled")])
            if rng.random() < 0.3:  # the gate refuses a second ending, leaving no trace
                with pytest.raises(IllegalTransition):
                    store.commit([ev(run_id, "step_succeeded", clock(), key, attempt)])
        end = rng.choice(["run_succeeded", "run_failed", "run_canceled", None])
        if end:
            store.commit([ev(run_id, end, clock(), error=None if end == "run_succeeded"
                             else "something")])
    return run_ids


class TestSqliteStore(OnSqlite, StoreConformance):
    @pytest.mark.parametrize(("durability", "synchronous"), [("normal", 1), ("full", 2)])
    def test_wal_and_durability(self, url: str, clock: Clock, durability: str,
                                synchronous: int) -> None:
        with SqlStore(url, durability=durability) as store:
            self.start_run(store, clock)
            writer = store.writer._connection
            assert writer.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert writer.execute("PRAGMA synchronous").fetchone() == (synchronous,)
            with store.engine.connect() as reader:
                assert reader.exec_driver_sql("PRAGMA synchronous").scalar() == synchronous


class TestPostgresStore(OnPostgres, StoreConformance):
    pass
