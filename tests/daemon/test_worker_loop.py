"""A worker in this process, on SQLite: it executes queued runs in priority order, within
the run limits; a run it cannot execute (its flow deleted, its module broken, parameters
that no longer fit) ends failed with the reason while the worker goes on; shutting down
releases the runs still under way, and another worker resumes them without running their
finished steps again."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from worker_kit import (
    FLOWS,
    event_counts,
    ledger,
    queue,
    settled,
    statuses,
    wait_for,
    work_until,
    write_flows,
)

from legato.daemon.worker import Worker
from legato.errors import SettingsError
from legato.settings import Settings
from legato.store.records import RunStatus
from legato.store.sql_store import SqlStore


@pytest.fixture
def settings(project: Path) -> Settings:
    return Settings(home=project / ".legato", lease_ttl=2.0)


def test_queued_runs_are_executed_highest_priority_first(project: Path,
                                                          settings: Settings) -> None:
    flows = write_flows(project)
    with SqlStore(settings.store_url) as store:
        low = queue(store, flows, "noop", [{"x": i} for i in range(3)])
        high = queue(store, flows, "noop", [{"x": 10 + i} for i in range(3)], priority=5)
        worker = Worker(settings, slots=1)
        work_until(worker, settled(store))
        runs = statuses(store, low + high)
    assert {r.status for r in runs.values()} == {RunStatus.SUCCEEDED}
    by_start = sorted(runs.values(), key=lambda r: r.started_at or 0)
    assert [r.run_id for r in by_start] == high + low
    assert worker.stats().claimed == 6
    assert worker.stats().succeeded == 6


def test_each_run_is_claimed_once_and_the_run_limit_holds(project: Path) -> None:
    settings = Settings(home=project / ".legato", run_concurrency={"flow:limited": 2})
    flows = write_flows(project)
    with SqlStore(settings.store_url) as store:
        ids = queue(store, flows, "limited", [{"label": str(i), "seconds": 0.05}
                                              for i in range(10)])
        ids += queue(store, flows, "noop", [{"x": i} for i in range(20)])
        work_until(Worker(settings, slots=4), settled(store))
        runs = statuses(store, ids)
        claims = event_counts(store, "run_claimed")
    assert {r.status for r in runs.values()} == {RunStatus.SUCCEEDED}
    assert all(claims[run_id] == 1 for run_id in ids)
    running, most = 0, 0
    for what, _, _ in sorted(ledger(project), key=lambda row: row[2]):
        running += 1 if what.startswith("hold-start") else -1
        most = max(most, running)
    assert 1 <= most <= 2


def test_a_flow_deleted_after_its_run_was_queued_fails_the_run_and_the_worker_goes_on(
        project: Path, settings: Settings) -> None:
    flows = write_flows(project)
    worker = Worker(settings, slots=2)
    with SqlStore(settings.store_url) as store:
        before = queue(store, flows, "limited", [{"label": "before"}])
        work_until(worker, settled(store))  # the worker has loaded flows.py once
        flows.write_text(FLOWS.split("@lg.task\ndef hold")[0])  # `limited` is gone
        gone = queue(store, flows, "limited", [{"label": "gone"}])
        fine = queue(store, flows, "noop", [{"x": 1}])
        work_until(worker, settled(store))
        runs = statuses(store, before + gone + fine)
    assert runs[before[0]].status == RunStatus.SUCCEEDED
    failed = runs[gone[0]]
    assert failed.status == RunStatus.FAILED
    assert failed.error is not None
    assert "flow 'limited' is not defined in file:" in failed.error
    assert "restore the flow" in failed.error
    assert runs[fine[0]].status == RunStatus.SUCCEEDED
    assert worker.stats().failed == 1


def test_a_broken_module_or_parameters_that_no_longer_fit_fail_the_run(
        project: Path, settings: Settings) -> None:
    flows = write_flows(project)
    with SqlStore(settings.store_url) as store:
        misfit = queue(store, flows, "noop", [{"y": 1}])
        work_until(Worker(settings), settled(store))
        flows.write_text(FLOWS + "\nraise RuntimeError('broken on purpose')\n")
        broken = queue(store, flows, "noop", [{"x": 1}])
        work_until(Worker(settings), settled(store))
        runs = statuses(store, misfit + broken)
    assert runs[misfit[0]].status == RunStatus.FAILED
    assert "flow 'noop' cannot take these parameters" in (runs[misfit[0]].error or "")
    assert runs[broken[0]].status == RunStatus.FAILED
    error = runs[broken[0]].error or ""
    assert "cannot be loaded" in error
    assert "RuntimeError: broken on purpose" in error


def test_shutting_down_releases_a_run_and_another_worker_resumes_it_at_once(
        project: Path) -> None:
    settings = Settings(home=project / ".legato", lease_ttl=10.0)  # not waited for
    flows = write_flows(project)
    with SqlStore(settings.store_url) as store:
        (run_id,) = queue(store, flows, "sleepy", [{"label": "a", "seconds": 60}])
        stop = threading.Event()
        first = Worker(settings, grace_s=0.2)
        thread = threading.Thread(target=first.run, args=(stop,))
        thread.start()
        wait_for(lambda: any(w == "nap-start:a" for w, _, _ in ledger(project)))
        stop.set()
        thread.join(10)
        assert not thread.is_alive()
        released = store.get_run(run_id)
        assert released.status == RunStatus.RUNNING
        assert released.lease_token == 2  # claimed with 1; the release moved it on
        assert released.lease_expires_at is not None
        assert released.lease_expires_at <= time.time()
        assert event_counts(store, "run_released")[run_id] == 1
        assert first.stats().released == 1

        (project / "open-a").touch()  # the nap ends at once from now on
        started = time.monotonic()
        second = Worker(settings)
        work_until(second, settled(store))
        assert time.monotonic() - started < settings.lease_ttl / 2  # no wait for expiry
        run = store.get_run(run_id)
        recorded = store.get_events(run_id)
        events = [e.kind for e in recorded]
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert second.stats().resumed == 1
    assert events.count("run_resumed") == 1
    notes = [w for w, _, _ in ledger(project)]
    assert notes.count("first:a") == 1  # a finished step does not run again
    assert notes.count("nap-start:a") == 2
    # a release is no crash: the nap's cut attempt does not count against its retries, and
    # its next attempt runs as usual, in the worker's own process (not apart, in a child)
    (cut,) = [e for e in recorded if e.kind == "step_failed"]
    assert cut.data["counted"] is False and "crashed" not in cut.data
    assert cut.data["error"].startswith("the attempt was cut short: its worker shut down")
    naps = [pid for what, pid, _ in ledger(project) if what == "nap-start:a"]
    assert naps == [os.getpid(), os.getpid()]


def test_a_worker_needs_a_slot(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="at least one slot"):
        Worker(settings, slots=0)


def test_runs_without_a_recorded_source_fail_when_claimed_and_are_left_when_orphaned(
        settings: Settings) -> None:
    """A queued run must be loadable by a worker; a run started in code (its definitions
    built there) that lost its process is left for its owner to resume with them."""
    from legato.engine.session import new_run_id
    from legato.store.queue import claim, enqueue, queued_event

    with SqlStore(settings.store_url) as store:
        orphan, queued = new_run_id(), new_run_id()
        enqueue(store, [queued_event(orphan, kind="flow", target="f", params={},
                                     source=None)])
        claim(store, "elsewhere:1:x", lease_s=0.01)
        enqueue(store, [queued_event(queued, kind="flow", target="f", params={},
                                     source=None)])
        time.sleep(0.02)
        worker = Worker(settings)
        work_until(worker, lambda: store.get_run(queued).status != RunStatus.QUEUED
                   and worker.free_slots == worker.slots)
        failed, left = store.get_run(queued), store.get_run(orphan)
    assert failed.status == RunStatus.FAILED
    assert "did not record where its definitions come from" in (failed.error or "")
    assert left.status == RunStatus.RUNNING
    assert left.lease_owner == "elsewhere:1:x"
    assert worker.stats().resumed == 0
