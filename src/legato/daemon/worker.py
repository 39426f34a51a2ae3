"""A worker: claims queued runs and executes each in a slot of its own.

The loop claims up to its free slots (``store/queue.claim``, within the run limits of the
settings), starts each claimed run in a thread of its own, and claims again as soon as a
slot frees (under load, after up to ``LINGER_S`` for a few more to free, so that one claim
serves several). When the queue is empty it waits a little, longer each time it finds
nothing (a millisecond at first, at most ``IDLE_MAX_S``: 20 ms on SQLite, where a look
costs tens of microseconds), and wakes at once when a run ends or, on PostgreSQL, when a
run is enqueued (``LISTEN``). Every third of the lease's time to live (at most
``SCAN_MAX_S``) it looks for runs that another process left behind (``resumable_runs``:
their lease expired, or their holder died) and resumes them in free slots, so a killed
worker's run goes on elsewhere within the lease's time to live and one heartbeat.

Runs share the worker's store: one connection, whose group commits serve all its slots.

A run whose definitions cannot be loaded (a broken module, a deleted flow) or whose
parameters no longer fit its flow is recorded as failed with the reason: it neither
crashes the worker nor stays claimed.

Shutting down (``stop`` set: SIGTERM, Ctrl-C): no more claims; the runs under way get
``grace_s`` seconds to finish; those still running are then released (``run_released``:
their lease expires now and its token moves on), so another worker takes them over at
once, and this one's late writes are refused.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from legato.daemon.targets import RunTargets
from legato.definitions.definitions import Definitions
from legato.definitions.recording import record_definitions
from legato.engine.lease import may_take_over, new_owner, release, takeover_data
from legato.engine.results import RunResult
from legato.engine.resume import execute_claimed, resumable_runs, resume_run
from legato.engine.runner import Runner
from legato.errors import (
    IllegalTransition,
    LeaseLost,
    LegatoError,
    RunInProgressError,
    SettingsError,
    StoreError,
)
from legato.settings import Settings
from legato.store.events import RunFailed, event
from legato.store.queue import RunLimits
from legato.store.records import Lease, RunRecord, RunStatus
from legato.store.sql_store import SqlStore

logger = logging.getLogger(__name__)

IDLE_MIN_S = 0.001
LINGER_S = 0.002
"""Under load, how long a claim may wait for more slots to free (``Worker._linger``): 2 ms
gave 20% more runs per second to 4 workers x 4 slots on PostgreSQL (interleaved A/B)."""
SCAN_MAX_S = 5.0
"""Longest time between two looks for runs to take over."""
DEFAULT_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class RunEnd:
    """How one run this worker executed ended (for a status line or a log)."""

    run_id: str
    target: str
    status: str
    error: str | None
    resumed: bool


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """What a worker did so far: runs under way, claimed, taken over, and how they ended."""

    running: int
    claimed: int
    resumed: int
    succeeded: int
    failed: int
    canceled: int
    released: int


class Worker:
    """Executes queued runs: ``Worker(settings).run(stop)`` until ``stop`` is set.

    Each run executes against the definitions it was requested from (``runs.source``),
    loaded once per source; ``definitions`` given serve every run instead, or, with
    ``other_sources``, the runs requested from them (and runs that recorded no source)
    while the others load theirs."""

    def __init__(self, settings: Settings, *, definitions: Definitions | None = None,
                 slots: int | None = None, owner: str | None = None,
                 grace_s: float = DEFAULT_GRACE_S,
                 on_run_end: Callable[[RunEnd], None] | None = None,
                 other_sources: bool = False) -> None:
        self.settings = settings
        self.slots = settings.worker_slots if slots is None else slots
        if self.slots < 1:
            raise SettingsError(f"a worker needs at least one slot, got {self.slots}",
                                hint="pass slots=1 or more (legato worker --slots N)")
        self.owner = owner or new_owner()
        self.limits = RunLimits(settings.max_concurrent_runs, dict(settings.run_concurrency))
        self.grace_s = grace_s
        self.on_run_end = on_run_end
        self.scan_every = min(settings.lease_ttl / 3, SCAN_MAX_S)
        self.definitions = definitions
        self._targets = RunTargets(definitions, only_given=not other_sources)
        self._store: SqlStore | None = None
        self._runner = Runner(settings)  # replaced by one on the worker's store when opened
        self._stop_listening: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._active: dict[str, threading.Thread] = {}
        self._counts: Counter[str] = Counter()
        self._wake = threading.Event()
        self._hurry = threading.Event()
        self._next_scan = 0.0
        self._unloadable: set[str] = set()

    # -- the loop ---------------------------------------------------------------------

    @property
    def store(self) -> SqlStore:
        """The worker's store, opened on first use; its runs share it (one connection,
        whose group commits serve every slot)."""
        if self._store is None:
            self._store = SqlStore(self.settings.store_url, durability=self.settings.durability)
            self._runner = Runner(self.settings, store=self._store)
        return self._store

    @property
    def free_slots(self) -> int:
        with self._lock:
            return self.slots - len(self._active)

    def poll_once(self) -> int:
        """Take over runs left behind (when a look is due) and claim queued runs, for the
        free slots; start each in a thread. The number of runs started."""
        started = 0
        if time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + self.scan_every
            started += self._take_over_left_behind()
        free = self.free_slots
        if free > 0:
            before = time.monotonic()  # the leases' clock starts at most here
            runs = self.store.claim(self.owner, self.settings.lease_ttl, limit=free,
                                    limits=self.limits)
            for run in runs:
                self._start(run, resumed=False, claimed_at=before)
            started += len(runs)
        return started

    def run(self, stop: threading.Event, *, until: Callable[[], bool] | None = None) -> None:
        """Claim and execute runs until ``stop`` is set (or ``until()`` is true), then shut
        down: the runs under way get ``grace_s`` to finish, the others are released."""
        if self.definitions is not None:  # the catalog, for who never imports them
            record_definitions(self.store, self.definitions)
        self._stop_listening = self.store.listen_for_queued(self._wake)
        idle, idle_max = IDLE_MIN_S, self.store.capabilities.idle_poll_max_s
        try:
            while not stop.is_set() and not (until is not None and until()):
                self._wake.clear()
                try:
                    started = self.poll_once()
                except StoreError as error:  # the database is away: try again shortly
                    logger.warning("worker %s: %s", self.owner, error)
                    started, idle = 0, 1.0
                free = self.free_slots
                if started and free:
                    idle = IDLE_MIN_S
                    continue  # there may be more
                if not free:  # a slot frees, or a look for runs left behind is due
                    if self._wake.wait(max(self._next_scan - time.monotonic(), 0.0)):
                        self._linger()
                    idle = IDLE_MIN_S
                    continue
                # nothing to claim: wait, longer each time, unless woken
                idle = IDLE_MIN_S if self._wake.wait(idle) else min(idle * 2, idle_max)
        finally:
            self.shutdown()

    def _linger(self) -> None:
        """A slot of a busy worker freed: let a few more free before the next claim
        (``LINGER_S`` at most), so that one claim serves several slots: a claim is a
        transaction, whose cost would otherwise be paid once per run."""
        deadline = time.monotonic() + LINGER_S
        while self.free_slots < max(self.slots // 2, 1):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wake.clear()
            self._wake.wait(left)

    def wake(self) -> None:
        """Look at the queue now (runs were just enqueued in this process)."""
        self._wake.set()

    def hurry(self) -> None:
        """Cut the grace period of a shutdown short (Ctrl-C pressed twice)."""
        self._hurry.set()

    def shutdown(self) -> None:
        """Wait up to ``grace_s`` for the runs under way; release those still running."""
        deadline = time.monotonic() + self.grace_s
        while self._threads() and not self._hurry.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._wake.clear()
            self._wake.wait(min(left, 0.1))
        try:
            for run_id in [run_id for run_id, _ in self._threads()]:
                self._release(run_id)
        finally:
            if self._stop_listening is not None:
                self._stop_listening()
                self._stop_listening = None
            if self._store is not None:
                self._store.close()
                self._store = None

    def stats(self) -> WorkerStats:
        with self._lock:
            c = self._counts
            return WorkerStats(running=len(self._active), claimed=c["claimed"],
                               resumed=c["resumed"], succeeded=c["succeeded"],
                               failed=c["failed"], canceled=c["canceled"],
                               released=c["released"])

    # -- one run in a slot -------------------------------------------------------------

    def _threads(self) -> list[tuple[str, threading.Thread]]:
        with self._lock:
            return [(k, t) for k, t in self._active.items() if t.is_alive()]

    def _start(self, run: RunRecord, *, resumed: bool, claimed_at: float | None = None
               ) -> None:
        thread = threading.Thread(target=self._execute, args=(run, resumed, claimed_at),
                                  daemon=True, name=f"legato-run-{run.run_id}")
        with self._lock:
            self._active[run.run_id] = thread
            if not resumed:
                self._counts["claimed"] += 1
        thread.start()

    def _execute(self, run: RunRecord, resumed: bool, claimed_at: float | None) -> None:
        status, error = "lost", None
        try:
            status, error = self._outcome(run, resumed, claimed_at)
        except BaseException:  # a slot must always free, whatever happened
            logger.exception("worker %s: run %s", self.owner, run.run_id)
            raise
        finally:
            with self._lock:
                self._active.pop(run.run_id, None)
                self._counts[status] += 1
                if resumed and status != "skipped":
                    self._counts["resumed"] += 1
            self._wake.set()
            if self.on_run_end is not None and status != "skipped":
                self.on_run_end(RunEnd(run.run_id, run.target, status, error, resumed))

    def _outcome(self, run: RunRecord, resumed: bool, claimed_at: float | None
                 ) -> tuple[str, str | None]:
        """Execute (or resume) the run; how it ended, as far as this worker knows."""
        try:
            target = self._targets.target(run)
            result: RunResult
            if resumed:
                result = resume_run(self._runner, run.run_id, definitions=target)
            else:
                result = execute_claimed(self._runner, run, definitions=target,
                                         claimed_at=claimed_at)
            return str(result.status), result.error
        except RunInProgressError:
            return "skipped", None  # another worker took it over first
        except LeaseLost:
            return "lost", None  # released at shutdown, or taken over meanwhile
        except LegatoError as error:  # definitions, parameters, selection: the run fails
            if isinstance(error, StoreError) and not isinstance(error, IllegalTransition):
                logger.warning("worker %s: run %s: %s", self.owner, run.run_id, error)
                return "lost", str(error)  # its lease expires; it is taken over then
            message = str(error) + (f" (hint: {error.hint})" if error.hint else "")
            self._fail(run, message, taken=resumed)
            return "failed", message
        except Exception as error:
            logger.exception("worker %s: run %s failed unexpectedly", self.owner, run.run_id)
            message = f"the worker failed to execute the run: {type(error).__name__}: {error}"
            self._fail(run, message, taken=resumed)
            return "failed", message

    def _fail(self, run: RunRecord, message: str, *, taken: bool) -> None:
        """Record ``run`` as failed, under the lease this worker claimed it with, or (a run
        left behind by another process) after taking it over."""
        ttl = self.settings.lease_ttl
        if self._store is None:
            return  # shut down meanwhile: the run was released, another worker has it
        try:
            if taken:
                current = self.store.get_run(run.run_id)
                claim_now = may_take_over(current)
                if not claim_now.allowed:
                    return  # resumed by someone else, or ended, meanwhile
                data = takeover_data(current, self.owner, ttl, claim_now.reason)
                self.store.commit([event(data, run.run_id)])
                lease = Lease(run.run_id, self.owner, data.token, ttl)
            else:
                lease = Lease(run.run_id, self.owner, run.lease_token or 1, ttl)
            self.store.commit([event(RunFailed(error=message), run.run_id)], lease=lease)
        except IllegalTransition:
            pass  # the run moved on (taken over, or ended) meanwhile: it is not ours
        except StoreError as error:
            logger.warning("worker %s: could not record run %s as failed: %s", self.owner,
                           run.run_id, error)

    # -- runs left behind, and letting go -------------------------------------------------

    def _take_over_left_behind(self) -> int:
        free = self.free_slots
        if free <= 0:
            return 0
        with self._lock:
            skip = set(self._active) | self._unloadable
        found = [r for r in resumable_runs(self.store, limit=free + len(skip))
                 if r.run_id not in skip]
        for run in found:
            if run.source is None and not self._targets.given:
                # started in code (lg.run with definitions built there): only its owner can
                # resume it, giving them (lg.resume(run_id, definitions=...))
                logger.warning("worker %s: run %s may be resumed, but it did not record where "
                               "its definitions come from; leaving it", self.owner, run.run_id)
                self._unloadable.add(run.run_id)
        found = [r for r in found if r.run_id not in self._unloadable][:free]
        for run in found:
            self._start(run, resumed=True)
        return len(found)

    def _release(self, run_id: str) -> None:
        try:
            run = self.store.get_run(run_id)
            if run.status == RunStatus.RUNNING and self._holds(run.lease_owner) and release(
                    self.store, run, f"worker {self.owner} shut down"):
                logger.info("worker %s released run %s", self.owner, run_id)
                with self._lock:
                    self._counts["released"] += 1
        except LegatoError as error:
            logger.warning("worker %s: could not release run %s: %s", self.owner, run_id,
                           error)

    def _holds(self, owner: str | None) -> bool:
        """True for a lease of this worker: its own, or one its runner took a run over with
        (``host:pid:nonce`` of this process)."""
        if owner is None:
            return False
        return owner == self.owner or owner.startswith(f"{socket.gethostname()}:{os.getpid()}:")
