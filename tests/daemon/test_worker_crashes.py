"""``legato worker`` processes against steps that take their process down and against lease
races: a step that calls ``os._exit`` (what a segfault or the out-of-memory killer looks
like) fails by itself after its retries, naming the crash, while a run claimed alongside
it succeeds and the other workers live on; a worker that spent longer than its lease
loading the definitions does not run a body that another worker already ran; and a pid
of another PID namespace is never judged dead."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from worker_kit import (
    backend_settings,
    queue,
    spawn_worker,
    statuses,
    stop_workers,
    wait_for,
    work_until,
)

from legato.daemon.worker import Worker
from legato.engine.lease import pid_space
from legato.store.queue import claim
from legato.store.records import RunStatus, StepStatus
from legato.store.sql_store import SqlStore

POISON = '''
import os
import time
from pathlib import Path

import legato as lg

HERE = Path(__file__).parent


def note(name, what):
    with (HERE / name).open("a") as ledger:
        ledger.write(f"{what} {os.getpid()}\\n")


@lg.task(retries=2)
def explode(label: str) -> str:
    note("poison.txt", label)
    deadline = time.time() + 10
    while not (HERE / "steady.txt").exists() and time.time() < deadline:
        time.sleep(0.01)  # takes the other run's step down with it
    os._exit(7)


@lg.flow
def poison(label: str = "p") -> str:
    return explode(label)


@lg.task
def steady(label: str, seconds: float) -> str:
    note("steady.txt", label)
    time.sleep(seconds)
    return label


@lg.flow
def innocent(label: str = "i", seconds: float = 1.5) -> str:
    return steady(label, seconds)
'''

SLOW_IMPORT = '''
import os
import time
from pathlib import Path

import legato as lg

time.sleep(float(os.environ.get("SLOW_IMPORT_S", "0")))


@lg.task
def once(label: str) -> str:
    with Path(__file__).with_name("bodies.txt").open("a") as ledger:
        ledger.write(f"{label} {os.getpid()}\\n")
    return label


@lg.flow
def race(label: str = "b") -> str:
    return once(label)
'''





def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.slow
def test_a_step_that_kills_its_worker_fails_by_itself_after_its_retries(
        project: Path, backend: str, request: pytest.FixtureRequest) -> None:
    settings = backend_settings(project, backend, request, lease_ttl=3.0)
    flows = project / "flows.py"
    flows.write_text(POISON)
    with SqlStore(settings.store_url) as store:
        (calm,) = queue(store, flows, "innocent", [{}])
        (bad,) = queue(store, flows, "poison", [{}])
        first = spawn_worker(project, settings, "--slots", "2")  # claims both in one poll
        workers = [first]
        try:
            wait_for(lambda: all(r.status == RunStatus.RUNNING
                                 for r in statuses(store, [calm, bad]).values()))
            workers.append(spawn_worker(project, settings, "--slots", "2"))
            assert first.wait(timeout=60) == 7  # the step took its process down, once
            wait_for(lambda: all(r.status not in (RunStatus.QUEUED, RunStatus.RUNNING)
                                 for r in statuses(store, [calm, bad]).values()), every=0.1)
            runs = statuses(store, [calm, bad])
            (step,) = store.get_steps(bad)
            failures = [e for e in store.get_events(bad) if e.kind == "step_failed"]
            calm_failures = [e for e in store.get_events(calm) if e.kind == "step_failed"]
            survivor_alive = workers[1].poll() is None
        finally:
            ended = stop_workers(workers)
    # the culprit is named, failed after its retries (3 attempts), and its run ended
    assert runs[bad].status == RunStatus.FAILED
    assert (step.step_key, step.status, step.attempts) == ("explode", StepStatus.FAILED, 3)
    assert step.error == "the process died while running this step (exit code 7), 3 times"
    assert [e.attempt for e in failures] == [1, 2, 3]
    assert all(e.data.get("crashed") for e in failures)
    assert f"process {first.pid} on {socket.gethostname()} died" in failures[0].data["error"]
    assert len(_lines(project / "poison.txt")) == 3  # retries + 1 bodies, no more
    # the run claimed alongside it is not blamed: its cut attempt is retried, and succeeds
    assert runs[calm].status == RunStatus.SUCCEEDED, runs[calm].error
    assert [e.attempt for e in calm_failures] == [1]
    # one worker died (the step ran in its threads); the other lives on, and stops cleanly
    assert survivor_alive
    assert ended[1][0] == 0, ended[1][1]


@pytest.mark.slow
def test_a_worker_that_loaded_its_definitions_past_its_lease_runs_no_body(
        project: Path, backend: str, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """W2 claims the run and spends longer than the lease importing the definitions; W1
    takes the run over and runs the step; W2 must then find its lease gone before the
    body, by the store, not by a clock started when it had finished loading."""
    settings = backend_settings(project, backend, request, lease_ttl=2.0)
    flows = project / "flows.py"
    flows.write_text(SLOW_IMPORT)
    with SqlStore(settings.store_url) as store:
        (run_id,) = queue(store, flows, "race", [{}])
        monkeypatch.setenv("SLOW_IMPORT_S", "5")
        slow = spawn_worker(project, settings, "--slots", "1")
        monkeypatch.delenv("SLOW_IMPORT_S")
        workers = [slow]
        try:
            wait_for(lambda: store.get_run(run_id).status == RunStatus.RUNNING)
            workers.append(spawn_worker(project, settings, "--slots", "1"))
            wait_for(lambda: store.get_run(run_id).status != RunStatus.RUNNING, every=0.1)
            time.sleep(5)  # the slow worker has loaded them by now, and met its lost lease
            run = store.get_run(run_id)
            events = store.get_events(run_id)
        finally:
            ended = stop_workers(workers)
    assert run.status == RunStatus.SUCCEEDED, run.error
    bodies = _lines(project / "bodies.txt")
    assert len(bodies) == 1, bodies
    assert int(bodies[0].split()[1]) == workers[1].pid
    (resumed,) = [e for e in events if e.kind == "run_resumed"]
    assert resumed.data["reason"].startswith("its lease expired")
    assert all(code == 0 for code, _ in ended), ended


def test_a_pid_of_another_pid_namespace_waits_for_its_lease_to_expire(
        project: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """Same host name, another PID namespace (a container on host networking): its pid means
    nothing here, even one that names no process. Only the lease's expiry frees the run."""
    settings = backend_settings(project, backend, request, lease_ttl=1.5)
    flows = project / "flows.py"
    flows.write_text(POISON)
    namespace, _, boot = pid_space().partition(".")
    stranger = f"{socket.gethostname()}:{2**22 + 4242}:abcdef:{int(namespace) + 1}.{boot}"
    with SqlStore(settings.store_url) as store:
        (run_id,) = queue(store, flows, "innocent", [{"seconds": 0.0}])
        (claimed,) = claim(store, stranger, settings.lease_ttl)
        worker = Worker(settings)
        work_until(worker, lambda: store.get_run(run_id).status != RunStatus.RUNNING)
        run = store.get_run(run_id)
        (resumed,) = [e for e in store.get_events(run_id) if e.kind == "run_resumed"]
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert resumed.data["previous_owner"] == stranger
    assert resumed.data["reason"].startswith("its lease expired")
    assert claimed.lease_expires_at is not None
    assert resumed.at >= claimed.lease_expires_at


def test_a_dead_pid_of_this_pid_namespace_is_taken_over_at_once(
        project: Path, backend: str, request: pytest.FixtureRequest) -> None:
    settings = backend_settings(project, backend, request, lease_ttl=30.0)
    flows = project / "flows.py"
    flows.write_text(POISON)
    child = subprocess.Popen(["true"])
    child.wait()  # a pid that named a process of this namespace, now gone
    dead = f"{socket.gethostname()}:{child.pid}:abcdef:{pid_space()}"
    with SqlStore(settings.store_url) as store:
        (run_id,) = queue(store, flows, "innocent", [{"seconds": 0.0}])
        (claimed,) = claim(store, dead, settings.lease_ttl)
        work_until(Worker(settings), lambda: store.get_run(run_id).status != RunStatus.RUNNING,
                   timeout=20)
        (resumed,) = [e for e in store.get_events(run_id) if e.kind == "run_resumed"]
    assert resumed.data["reason"] == f"the process that held it ({dead}) has died"
    assert claimed.lease_expires_at is not None
    assert resumed.at < claimed.lease_expires_at
    assert os.getpid() != child.pid
