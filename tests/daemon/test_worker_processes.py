"""``legato worker`` processes on one store: every queued run is claimed by exactly one of
them and ends, the run limits hold across them, and when one is killed (SIGKILL) in the
middle of a run, another resumes that run within the lease's time to live and one
heartbeat, without running its finished steps again."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from worker_kit import (
    backend_settings,
    count_by_status,
    event_counts,
    ledger,
    queue,
    settled,
    spawn_worker,
    statuses,
    stop_workers,
    wait_for,
    work_until,
    write_flows,
)

from legato.daemon.worker import Worker
from legato.store.queue import claim
from legato.store.records import RunStatus
from legato.store.sql_store import SqlStore


@pytest.mark.slow
def test_worker_processes_claim_every_run_exactly_once_within_the_limits(
        project: Path, backend: str, request: pytest.FixtureRequest) -> None:
    settings = backend_settings(project, backend, request, run_concurrency={"flow:limited": 2})
    flows = write_flows(project)
    noops = 2000 if backend == "postgres" else 300
    with SqlStore(settings.store_url) as store:
        ids = queue(store, flows, "noop", [{"x": i} for i in range(noops)])
        ids += queue(store, flows, "limited", [{"label": str(i), "seconds": 0.02}
                                               for i in range(24)])
        workers = [spawn_worker(project, settings, "--slots", "4")
                   for _ in range(4 if backend == "postgres" else 3)]
        try:
            wait_for(settled(store), every=0.2)
        finally:
            ended = stop_workers(workers)
        runs = statuses(store, ids)
        claims = event_counts(store, "run_claimed")
        counts = count_by_status(store)
    assert all(code == 0 for code, _ in ended), ended
    assert all("Traceback" not in err for _, err in ended), ended
    assert len(runs) == len(ids)
    assert counts == {RunStatus.SUCCEEDED: len(ids)}
    assert sorted(claims) == sorted(ids)
    assert set(claims.values()) == {1}  # each run claimed by exactly one worker, once
    running, most = 0, 0
    for what, _, _ in sorted(ledger(project), key=lambda row: row[2]):
        running += 1 if what.startswith("hold-start") else -1
        most = max(most, running)
    assert 1 <= most <= 2
    assert len({pid for _, pid, _ in ledger(project)}) >= 1


@pytest.mark.slow
def test_a_killed_workers_run_is_resumed_by_another_within_the_lease(
        project: Path, backend: str, request: pytest.FixtureRequest) -> None:
    settings = backend_settings(project, backend, request, lease_ttl=2.0)
    flows = write_flows(project)
    workers = [spawn_worker(project, settings, "--slots", "2") for _ in range(2)]
    try:
        with SqlStore(settings.store_url) as store:
            (run_id,) = queue(store, flows, "sleepy", [{"label": "k", "seconds": 60}])
            wait_for(lambda: any(w == "nap-start:k" for w, _, _ in ledger(project)))
            (pid,) = {p for w, p, _ in ledger(project) if w == "nap-start:k"}
            (victim,) = [w for w in workers if w.pid == pid]
            victim.send_signal(signal.SIGKILL)
            killed_at = time.time()
            victim.communicate(timeout=60)
            (project / "open-k").touch()  # the step runs again, and ends at once
            wait_for(lambda: store.get_run(run_id).status != RunStatus.RUNNING)
            run = store.get_run(run_id)
            events = store.get_events(run_id)
    finally:
        ended = stop_workers([w for w in workers if w.returncode is None])
    assert run.status == RunStatus.SUCCEEDED, run.error
    (resumed,) = [e for e in events if e.kind == "run_resumed"]
    assert resumed.at - killed_at < settings.lease_ttl * (1 + 1 / 3)
    notes = [(w, p) for w, p, _ in ledger(project)]
    assert [w for w, _ in notes].count("first:k") == 1  # finished: not run again
    assert [p for w, p in notes if w == "nap-start:k"][1] != pid
    assert all(code == 0 for code, _ in ended), ended


def test_a_run_left_by_a_worker_of_another_host_is_resumed_once_its_lease_expires(
        project: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """A worker elsewhere claimed the run and vanished: no process check can tell, only the
    lease's expiry frees the run."""
    settings = backend_settings(project, backend, request, lease_ttl=1.5)
    flows = write_flows(project)
    with SqlStore(settings.store_url) as store:
        (run_id,) = queue(store, flows, "noop", [{"x": 7}])
        (claimed,) = claim(store, "elsewhere:4242:abcdef", settings.lease_ttl)
        worker = Worker(settings)
        work_until(worker, settled(store))
        run = store.get_run(run_id)
        resumed = [e for e in store.get_events(run_id) if e.kind == "run_resumed"]
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert claimed.lease_expires_at is not None
    (event,) = resumed
    assert event.data["previous_owner"] == "elsewhere:4242:abcdef"
    late = event.at - claimed.lease_expires_at
    assert 0 <= late < worker.scan_every + 1.0  # at its first look after the expiry
