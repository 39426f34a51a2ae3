"""Leases: owner ids, telling a dead holder from a live one, when a run may be taken over,
the heartbeat that keeps a long step's run leased, and its reaction to a takeover."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import legato as lg
from legato.engine.lease import (
    Heartbeat,
    may_take_over,
    new_owner,
    owner_is_dead,
    pid_space,
    takeover_data,
)
from legato.errors import LeaseLost
from legato.store.records import Event, Lease, RunRecord, RunStatus
from legato.store.sql_store import SqlStore


def record(**fields: Any) -> RunRecord:
    base: dict[str, Any] = {
        "run_id": "r1", "kind": "flow", "target": "f", "status": RunStatus.RUNNING,
        "params": {}, "tags": [], "source": None, "created_at": 0.0, "ended_at": None,
        "error": None, "lease_owner": "elsewhere:1:aa", "lease_token": 1,
        "lease_expires_at": time.time() + 30}
    base.update(fields)
    return RunRecord(**base)


def test_an_owner_names_this_host_and_process() -> None:
    host, pid, nonce, space = new_owner().split(":")
    assert (host, int(pid), len(nonce)) == (socket.gethostname(), os.getpid(), 6)
    assert space == pid_space() != "?"
    assert new_owner() != new_owner()


def test_a_dead_local_process_is_told_from_a_live_one() -> None:
    child = subprocess.Popen(["sleep", "30"])
    space = pid_space()
    try:
        host = socket.gethostname()
        assert owner_is_dead(f"{host}:{child.pid}:x:{space}") is False
        assert owner_is_dead(f"{host}:{os.getpid()}:x:{space}") is False
        child.kill()
        time.sleep(0.1)  # killed, not reaped yet: a zombie is dead too
        assert owner_is_dead(f"{host}:{child.pid}:x:{space}") is True
    finally:
        child.wait()
    assert owner_is_dead(f"{host}:{child.pid}:x:{space}") is True
    # cannot know: wait for the lease to expire
    assert owner_is_dead(f"another-host:{child.pid}:x:{space}") is False
    assert owner_is_dead("not an owner") is False
    assert owner_is_dead(None) is False


def test_when_a_run_may_be_taken_over() -> None:
    now = time.time()
    assert not may_take_over(record(status=RunStatus.SUCCEEDED)).allowed
    held = may_take_over(record(lease_expires_at=now + 12), now)
    assert not held.allowed and held.wait_s == pytest.approx(12)
    assert held.reason \
        == "it is running in process elsewhere:1:aa, whose lease holds for 12.0s more"
    expired = may_take_over(record(lease_expires_at=now - 3), now)
    assert expired.allowed and expired.reason.startswith("its lease expired 3.0s ago")
    assert may_take_over(record(lease_expires_at=None)).allowed
    dead = f"{socket.gethostname()}:{2**22 + 12345}:x:{pid_space()}"  # above any pid in use
    assert may_take_over(record(lease_owner=dead)).allowed
    data = takeover_data(record(lease_token=4, lease_expires_at=now), "me:1:x", 9.0, "why")
    assert (data.token, data.previous_token, data.seen_expires_at) == (5, 4, now)


def test_the_heartbeat_renews_and_notices_a_takeover(tmp_path: Path) -> None:
    with SqlStore(f"sqlite:///{tmp_path / 'l.db'}") as store:
        now = time.time()
        store.commit([Event("r1", None, None, "run_started", now, {
            "kind": "flow", "target": "f", "owner": "me:1:a", "lease_s": 0.3})])
        lease = Lease("r1", "me:1:a", 1, 0.3, time.monotonic())
        lost: list[LeaseLost] = []
        beat = Heartbeat(store, lease, lost.append).start()
        try:
            deadline = time.monotonic() + 10
            run = store.get_run("r1")
            while (run.lease_expires_at or 0) < now + 0.6 and time.monotonic() < deadline:
                time.sleep(0.02)
                run = store.get_run("r1")
            assert (run.lease_expires_at or 0) >= now + 0.6  # renewed, and again
            store.commit([Event("r1", None, None, "run_resumed", time.time(), {
                "owner": "other:2:b", "token": 2, "lease_s": 30, "previous_token": 1,
                "seen_expires_at": run.lease_expires_at})])
            deadline = time.monotonic() + 5
            while not lost and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            beat.stop()
        assert len(lost) == 1 and "taken over" in str(lost[0])


def test_a_pid_of_another_pid_namespace_or_boot_is_never_judged() -> None:
    """Two containers on host networking share the host name, not their pids: a pid that
    does not exist here may be a live process there. Only the lease's expiry frees it."""
    host, dead_pid = socket.gethostname(), 2**22 + 12345  # above any pid in use
    namespace, _, boot = pid_space().partition(".")
    assert owner_is_dead(f"{host}:{dead_pid}:x:{pid_space()}") is True
    assert owner_is_dead(f"{host}:{dead_pid}:x:{int(namespace) + 1}.{boot}") is False
    assert owner_is_dead(f"{host}:{dead_pid}:x:{namespace}.0123456789ab") is False
    assert owner_is_dead(f"{host}:{dead_pid}:x:?") is False
    # an owner written by an older version (no space): unknown, so expiry alone decides
    assert owner_is_dead(f"{host}:{dead_pid}:x") is False
    now = time.time()
    elsewhere = record(lease_owner=f"{host}:{dead_pid}:x:{int(namespace) + 1}.{boot}",
                       lease_expires_at=now + 20)
    held = may_take_over(elsewhere, now)
    assert not held.allowed and held.wait_s == pytest.approx(20)
    assert may_take_over(elsewhere, now + 21).allowed


@lg.task
def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


@lg.flow
def patient(seconds: float) -> str:
    return slow(seconds)


def test_a_long_step_keeps_its_run_leased(project: Path) -> None:
    settings = lg.Settings(home=project / ".legato", lease_ttl=1.5)
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(
        lg.run(patient, seconds=2.6, settings=settings)))
    runner.start()
    try:
        time.sleep(2.0)  # past the first lease
        with SqlStore(settings.store_url) as store:
            (run,) = store.list_runs()
        assert (run.lease_expires_at or 0) > time.time()
        with pytest.raises(lg.RunInProgressError, match="whose lease holds"):
            lg.resume(run.run_id, settings=settings)
    finally:
        runner.join()
    assert results[0].ok and results[0].output == "done"


def test_a_holder_whose_lease_went_stale_renews_it_before_starting_a_body(
        tmp_path: Path) -> None:
    """A process that was frozen (or starved) past its lease checks, before it starts
    another body, that the run is still its own; if it was taken over, it stops."""
    from legato.engine.session import RunSession
    from legato.executors.threads import InlineExecutor
    from legato.values.value_store import ValueStore

    with SqlStore(f"sqlite:///{tmp_path / 'l.db'}") as store:
        store.commit([Event("r1", None, None, "run_started", time.time(), {
            "kind": "flow", "target": "f", "owner": "me:1:a", "lease_s": 0.2})])
        session = RunSession(store=store, values=ValueStore(tmp_path), run_id="r1",
                             executor=InlineExecutor(), tag_limits={}, params={})
        session.lease = Lease("r1", "me:1:a", 1, 0.2, time.monotonic())
        assert session.lease_fresh()  # young: nothing to do
        session.lease.renewed_at -= 5  # as if the process had been frozen for 5 s
        before = store.get_run("r1").lease_expires_at or 0
        assert session.lease_fresh()  # still its own: renewed on the spot
        assert (store.get_run("r1").lease_expires_at or 0) > before
        store.commit([Event("r1", None, None, "run_resumed", time.time(), {
            "owner": "other:2:b", "token": 2, "lease_s": 30, "previous_token": 1,
            "seen_expires_at": store.get_run("r1").lease_expires_at})])
        session.lease.renewed_at -= 5
        assert not session.lease_fresh()
        assert session.canceled.is_set() and isinstance(session.lost, LeaseLost)
