"""Leases: who executes a run, until when, and how another process takes it over.

A run is leased to the process that executes it: an owner id (``host:pid:nonce:space``), a
fencing token and an expiry. Every write of the holder checks, in the same transaction,
that its token is still the run's (``store/gate.py``); a ``Heartbeat`` thread pushes the
expiry ahead every third of the lease's time to live. (Renewing in every step's commit
instead cost 10% of a step: the run's row and an index page more to write each time.)

A run whose lease expired, or whose holder is a process that no longer exists, may be taken
over. Whether a process exists is asked of the operating system (``os.kill(pid, 0)``) only
where the answer means something: same host, same PID namespace and same boot
(``owner_is_dead``); elsewhere only the lease's expiry decides. A takeover is the
``run_resumed`` event: it sets a new owner and a higher token,
compare-and-set on the token and expiry the taker saw. The former holder's writes are
rejected from then on (``LeaseLost``), so a frozen process that wakes up late can never
record a second result.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from legato.errors import IllegalTransition, LeaseLost, StoreError
from legato.pids import pid_exists
from legato.store.events import RunReleased, RunResumed, event
from legato.store.records import Lease, RunRecord, RunStatus
from legato.store.sql_store import SqlStore

logger = logging.getLogger(__name__)


def _read_first(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def pid_space() -> str:
    """Where this process's pid means something: ``<pid namespace inode>.<boot id>`` on
    Linux (``/proc/self/ns/pid``, ``/proc/sys/kernel/random/boot_id``); ``host`` on systems
    without PID namespaces; ``?`` when it cannot be told (then no pid is ever judged)."""
    if not sys.platform.startswith("linux"):
        return "host"
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return "?"
    boot = _read_first("/proc/sys/kernel/random/boot_id")
    if boot is None:
        return "?"
    return f"{namespace}.{boot.replace('-', '')[:12]}"


def new_owner() -> str:
    """This process, as a lease owner: ``host:pid:nonce:space`` (``pid_space``). Owners
    written before the space was added (``host:pid:nonce``) still parse: their space is
    unknown, so only their lease's expiry frees their runs."""
    return (f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}:"
            f"{pid_space()}")


def owner_process(owner: str | None) -> tuple[str, int, str] | None:
    """(host, pid, space) of a lease owner; space is ``?`` for an owner string of an older
    version; None when ``owner`` is not a process's."""
    if not owner:
        return None
    parts = owner.split(":")
    if len(parts) < 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[3] if len(parts) > 3 and parts[3] else "?"


def owner_is_dead(owner: str | None) -> bool:
    """True when ``owner`` is a process that no longer exists, as far as this process can
    tell for sure: only for a process of the same host, PID namespace and boot, where its pid
    names it. Another namespace's pid may name a live process (or none) here, so there only
    the lease's expiry frees the run; a live process that reused the pid counts as alive."""
    found = owner_process(owner)
    if found is None:
        return False
    host, pid, space = found
    if host != socket.gethostname() or space == "?" or space != pid_space():
        return False
    return not pid_exists(pid)


@dataclass(frozen=True, slots=True)
class Claim:
    """Whether a run may be taken over now, and if not, why and for how long."""

    allowed: bool
    reason: str
    wait_s: float = 0.0


def may_take_over(run: RunRecord, now: float | None = None) -> Claim:
    now = time.time() if now is None else now
    if run.status != RunStatus.RUNNING:
        return Claim(False, f"it has already ended ({run.status})")
    if run.lease_expires_at is None:
        return Claim(True, "it has no lease")
    if run.lease_expires_at <= now:
        return Claim(True, f"its lease expired {now - run.lease_expires_at:.1f}s ago "
                           f"(held by {run.lease_owner})")
    if owner_is_dead(run.lease_owner):
        return Claim(True, f"the process that held it ({run.lease_owner}) has died")
    return Claim(False, f"it is running in process {run.lease_owner}, whose lease holds for "
                        f"{run.lease_expires_at - now:.1f}s more",
                 wait_s=run.lease_expires_at - now)


def takeover_data(run: RunRecord, owner: str, ttl: float, reason: str) -> RunResumed:
    """The payload of the ``run_resumed`` event that takes ``run`` over."""
    return RunResumed(owner=owner, token=(run.lease_token or 0) + 1, lease_s=ttl,
                      previous_owner=run.lease_owner, previous_token=run.lease_token or 0,
                      seen_expires_at=run.lease_expires_at or 0.0, reason=reason)


def release(store: SqlStore, run: RunRecord, reason: str) -> bool:
    """Let go of a run this process holds (``run.lease_token`` is its token): the lease
    expires now and its token moves on (``run_released``), so another process may take the
    run over at once and this one's later writes are refused. False when the lease was no
    longer this one (taken over, or the run ended)."""
    if run.status != RunStatus.RUNNING or run.lease_token is None:
        return False
    released = RunReleased(owner=run.lease_owner, token=run.lease_token, reason=reason)
    try:
        store.commit([event(released, run.run_id)])
    except IllegalTransition:
        return False
    return True


def expired_runs(store: SqlStore, now: float | None = None, limit: int = 100
                 ) -> list[RunRecord]:
    """Runs still marked running whose lease expired: what a worker resumes."""
    return store.list_expired_runs(time.time() if now is None else now, limit=limit)


class Heartbeat:
    """Renews ``lease`` every ``ttl / 3``; calls ``on_lost`` when the lease was taken over.
    Store errors are retried: if they last, the lease expires and the next write finds
    out."""

    def __init__(self, store: SqlStore, lease: Lease, on_lost: Callable[[LeaseLost], None]
                 ) -> None:
        self._store = store
        self._lease = lease
        self._on_lost = on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="legato-heartbeat",
                                        daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(RuntimeError):
            self._thread.join(timeout=5)

    def _beat(self) -> None:
        lease = self._lease
        every = max(lease.ttl / 3, 0.01)
        while not self._stop.wait(min(every / 2, 1.0)):
            if time.monotonic() - lease.renewed_at < every:
                continue
            try:
                self._store.renew_lease(lease)
            except LeaseLost as lost:
                self._on_lost(lost)
                return
            except StoreError as error:
                logger.warning("could not renew the lease of run %s: %s", lease.run_id, error)
