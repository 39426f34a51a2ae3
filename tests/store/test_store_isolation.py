"""Isolation in the group commit and the storable boundary, on real SQLite and PostgreSQL:
one request whose data cannot be stored as given (surrogates, NUL, a number out of range, a
name too long) never costs another request, run or deferred event; the connection's own
errors still reach everyone; any text goes through the boundary and is stored."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_kit import (
    BackendSuite,
    OnPostgres,
    OnSqlite,
    ev,
    new_run_id,
    run_started,
    step_data,
    stored_value,
)

from legato.errors import StoreError, UnstorableError
from legato.store.records import Lease, LogLine, StepStatus
from legato.store.sql_store import SqlStore
from legato.store.storable import storable, storable_text

TTL = 30.0
SURROGATE_NAME = b"report-\xff.csv".decode("utf-8", "surrogateescape")


def leased_run(store: SqlStore) -> tuple[str, Lease]:
    run_id = new_run_id()
    started = run_started(run_id, time.time())
    started.data.update(owner="host:1:aa", lease_s=TTL)
    store.commit([started])
    return run_id, Lease(run_id, "host:1:aa", 1, TTL)


def step_done(store: SqlStore, run_id: str, lease: Lease, *, message: str = "hello",
              level: int = 20, error_key: str = "s") -> None:
    """A step the way the engine ends it: its start deferred, then one commit with its
    value and log line."""
    store.defer(ev(run_id, "step_started", time.time(), error_key, 1,
                   **step_data(error_key, 0)), lease=lease)
    store.commit([ev(run_id, "step_succeeded", time.time(), error_key, 1,
                     value_id=f"{run_id}/{error_key}")],
                 values=[stored_value(f"{run_id}/{error_key}", time.time())],
                 log_lines=[LogLine(run_id, error_key, 1, time.time(), "stdout", level,
                                    message)], lease=lease)


POISONS: dict[str, dict[str, Any]] = {
    "surrogate": {"message": f"listing {SURROGATE_NAME}"},
    "nul": {"message": "bad\x00value"},
    "out-of-range": {"level": 2 ** 70},
}


class IsolationConformance(BackendSuite):
    def in_one_group(self, store: SqlStore, work: dict[str, Any]) -> dict[str, BaseException]:
        """Run each of ``work``'s callables in its own thread while the writer is held, so
        that they are all written in one group; the errors each one raised."""
        errors: dict[str, BaseException] = {}

        def call(name: str) -> None:
            try:
                work[name]()
            except BaseException as error:
                errors[name] = error

        with store.writer._lock:
            threads = [threading.Thread(target=call, args=(name,)) for name in work]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 10
            while len(store.writer._queue) < len(work) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(store.writer._queue) == len(work)  # they are written as one group
        for thread in threads:
            thread.join()
        return errors

    @pytest.mark.parametrize("poison", sorted(POISONS))
    def test_one_poisoned_request_in_a_group_costs_no_other_run(
            self, store: SqlStore, poison: str) -> None:
        runs = [leased_run(store) for _ in range(5)]
        bad_run = runs[2][0]
        work = {run_id: (lambda r=run_id, lease=lease: step_done(
            store, r, lease, **(POISONS[poison] if r == bad_run else {})))
            for run_id, lease in runs}
        errors = self.in_one_group(store, work)
        for run_id, _ in runs:
            steps = store.get_steps(run_id)
            assert len(steps) == 1, run_id  # every deferred start is kept, the culprit's too
            if run_id != bad_run:
                assert steps[0].status == StepStatus.SUCCEEDED
                assert [line.message for line in store.get_logs(run_id)] == ["hello"]
        if poison == "out-of-range":  # cannot be stored: fails its own request, once
            assert list(errors) == [bad_run]
            error = errors[bad_run]
            assert isinstance(error, UnstorableError)
            assert f"of run {bad_run} step 's'" in str(error) and "field 'level'" in str(error)
            assert store.get_steps(bad_run)[0].status == StepStatus.RUNNING
        else:  # made storable at the boundary: it commits, escaped
            assert errors == {}
            assert store.get_steps(bad_run)[0].status == StepStatus.SUCCEEDED
            (line,) = store.get_logs(bad_run)
            assert line.message == {"surrogate": "listing report-\\xff.csv",
                                    "nul": "bad\\x00value"}[poison]

    def test_a_poisoned_request_alone_fails_once_and_keeps_its_deferred_start(
            self, store: SqlStore) -> None:
        run_id, lease = leased_run(store)
        with pytest.raises(UnstorableError, match="field 'level'") as caught:
            step_done(store, run_id, lease, level=2 ** 70)
        assert caught.value.field == "level" and caught.value.hint
        (step,) = store.get_steps(run_id)
        assert step.status == StepStatus.RUNNING
        store.commit([ev(run_id, "step_failed", time.time(), "s", 1, error=str(caught.value),
                         next="fail")], lease=lease)  # what the step runner then records
        assert store.get_steps(run_id)[0].status == StepStatus.FAILED

    def test_a_name_too_long_for_its_column_fails_its_request_alone(
            self, store: SqlStore) -> None:
        run_id, lease = leased_run(store)
        other, other_lease = leased_run(store)
        long_name = "n" * 300

        def bad() -> None:
            store.commit([ev(run_id, "step_started", time.time(), "s", 1,
                             **step_data(long_name, 0))], lease=lease)

        def good() -> None:
            step_done(store, other, other_lease)

        errors = self.in_one_group(store, {"bad": bad, "good": good})
        assert store.get_steps(other)[0].status == StepStatus.SUCCEEDED
        if store.dialect == "postgresql":  # VARCHAR(255); SQLite does not enforce lengths
            assert isinstance(errors.get("bad"), UnstorableError)
            assert "field 'name' is 300 characters long" in str(errors["bad"])
        else:
            assert errors == {}

    def test_the_connection_failing_reaches_every_request(self, store: SqlStore) -> None:
        runs = [leased_run(store) for _ in range(3)]
        writer = store.writer

        def refuse() -> Any:
            raise sqlite3.OperationalError("unable to open database file (the test's)")

        writer._drop_connection()
        writer._connect = refuse
        errors = self.in_one_group(store, {
            run_id: (lambda r=run_id, lease=lease: step_done(store, r, lease))
            for run_id, lease in runs})
        assert set(errors) == {run_id for run_id, _ in runs}
        for error in errors.values():
            assert isinstance(error, StoreError) and not isinstance(error, UnstorableError)
            assert "the test's" in str(error)

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.differing_executors])
    @given(text=st.text(st.characters(codec=None), max_size=40) | st.sampled_from(
        [SURROGATE_NAME, "\x00", "a\ud800b", "\udcff\x00\U0001f600"]))
    def test_any_text_is_storable_as_the_policy_says(self, store: SqlStore, text: str
                                                     ) -> None:
        run_id, lease = leased_run(store)
        store.commit([ev(run_id, "step_started", time.time(), text or "k", 1,
                         **step_data(text, 0, tags=[text, {text: [text]}]))],
                     lease=lease)
        key = storable_text(text or "k")
        store.commit([ev(run_id, "step_failed", time.time(), text or "k", 1, error=text,
                         traceback=text, next="fail")],
                     log_lines=[LogLine(run_id, text or "k", 1, time.time(), "stdout", 20,
                                        text)], lease=lease)
        (step,) = store.get_steps(run_id)
        assert (step.step_key, step.name, step.error, step.traceback) == (
            key, storable_text(text), storable_text(text), storable_text(text))
        assert [line.message for line in store.get_logs(run_id)] == [storable_text(text)]
        started = store.get_events(run_id)[1]
        assert started.data["tags"] == storable([text, {text: [text]}])


class TestSqliteIsolation(OnSqlite, IsolationConformance):
    pass


class TestPostgresIsolation(OnPostgres, IsolationConformance):
    pass
