"""One run in progress: its id, store, executor, limits, cancel flag and step results.

Everything the run learns goes through ``record`` to the store's transition gate, and from
there to the observer (the CLI's live display)."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from legato.capture import Line, LogSink
from legato.definitions.step_options import StepOptions
from legato.engine.limits import TagLimits
from legato.engine.results import StepResult
from legato.errors import LeaseLost, StoreError
from legato.executors.base import Executor
from legato.store.events import Payload, event
from legato.store.records import Event, Lease, LogLine, StepStatus, StoredValue
from legato.store.sql_store import SqlStore
from legato.values.value_store import ValueStore

if TYPE_CHECKING:
    from legato.engine.inflight import Journal
    from legato.engine.replay import CutShort, RunHistory
    from legato.scheduler.logical import LogicalTime
    from legato.scheduler.partitions import TimeWindow

Observer = Callable[[Event], None]
logger = logging.getLogger(__name__)

FRESH_SHARE = 2 / 3
"""How much of a lease's time to live may pass before a body starts without asking the
store whether the lease is still this process's (``RunSession.lease_fresh``)."""


_serials = itertools.count(secrets.randbits(20))


def _reseed() -> None:
    global _serials  # noqa: PLW0603 - a forked child must not repeat its parent's ids
    _serials = itertools.count(secrets.randbits(20))


os.register_at_fork(after_in_child=_reseed)


def new_run_id() -> str:
    """Sortable by creation time, unique across processes: 11 hex digits of milliseconds and
    5 of a serial number that starts at random in each process. (Five random digits alone
    collided within a millisecond when thousands of runs were enqueued at once: one in a
    million per pair of ids.)"""
    return f"{int(time.time() * 1000):011x}{next(_serials) & 0xFFFFF:05x}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSpec:
    """One step to run: what it is, its function, and the keys of the steps it waits for."""

    key: str
    name: str
    kind: str  # asset | task
    fn: Callable[..., Any]
    options: StepOptions
    wants_ctx: bool
    is_async: bool
    upstream: tuple[str, ...] = ()
    code_version: Callable[[], str] = lambda: ""
    tags: tuple[str, ...] = ()
    partition_key: str | None = None
    """The partition a partitioned asset computes in this run."""
    partition_window: TimeWindow | None = None


@dataclass(slots=True, kw_only=True)
class StepOutcome:
    status: StepStatus
    value: Any = None
    value_id: str | None = None
    materialization_id: str | None = None
    attempts: int = 0
    error: str | None = None
    exception: BaseException | None = None
    """The last attempt's exception, when it could be kept (``StepFailed.__cause__``)."""
    reason: str | None = None
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.status in (StepStatus.SUCCEEDED, StepStatus.CACHED, StepStatus.FALLBACK)


class RunSession:
    def __init__(
        self,
        *,
        store: SqlStore,
        values: ValueStore,
        executor: Executor,
        tag_limits: dict[str, int],
        params: dict[str, Any],
        observer: Observer | None = None,
        run_id: str | None = None,
        history: RunHistory | None = None,
        log_limit: int | None = None,
        executor_name: str | None = None,
        make_executor: Callable[[str], Executor] | None = None,
    ) -> None:
        self.run_id = run_id or new_run_id()
        self.store = store
        self.values = values
        self.executor = executor
        self.limits = TagLimits(tag_limits)
        self.params = params
        self.observer = observer
        self.canceled = threading.Event()
        self.outcomes: dict[str, StepOutcome] = {}
        self.history = history
        """What the run did before it was resumed (None for a new run)."""
        self.lease: Lease | None = None
        """Set once the run is started or taken over: every write is fenced by it."""
        self.lost: LeaseLost | None = None
        """Set when another process took the run over: nothing more can be recorded."""
        self._seq = itertools.count(history.next_seq if history is not None else 0)
        self._lock = threading.Lock()
        self._writes = threading.Condition(threading.Lock())  # guards _ended and _in_flight
        self._in_flight = 0
        self._ended = False
        self.pid = os.getpid()
        """The process running the run: only it records (not a process a step forked)."""
        self.log_limit = log_limit
        """Most bytes of output kept per attempt (``max_log_bytes``)."""
        self.logical: LogicalTime | None = None
        """A scheduled run's tick and data interval (``ctx.scheduled_at``)."""
        self.journal: Journal | None = None
        """Where the bodies under way are noted, so that a crash names them."""
        self.cut_short: dict[str, CutShort] = {}
        """A resumed run: the attempts its former holder was running when it died."""
        self._quarantine: Executor | None = None
        self._executors: dict[str, Executor] = {executor_name or executor.name: executor}
        """The run's executors by the name they were asked for: its default, and those
        named by a step's ``executor=`` option, made when a step first needs them."""
        self._make_executor = make_executor

    def logical_context(self) -> dict[str, Any]:
        """``scheduled_at`` and ``data_interval`` for a step's ``ctx`` (empty when the run
        was not started by a schedule)."""
        if self.logical is None:
            return {}
        return {"scheduled_at": self.logical.scheduled_at,
                "data_interval": self.logical.data_interval}

    @property
    def careful(self) -> bool:
        """A resumed run — its former holder died, or stopped renewing its lease — commits
        each step's start before the body runs (two commits a step instead of one), so
        that if it dies again, the store names the step it was running."""
        return self.history is not None

    def quarantine(self) -> Executor:
        """The executor of the steps whose process died while running them: a process of
        their own each (``processes``), so that when one dies again, only it dies, and
        its exit code is known."""
        with self._lock:
            if self._quarantine is None:
                from legato.executors.processes import ProcessesExecutor

                self._quarantine = ProcessesExecutor(1, carry_context=True)
            return self._quarantine

    def executor_for(self, name: str | None) -> Executor:
        """The executor of a step's bodies: the run's, or the one its ``executor=`` option
        names (made once per run, with its own settings)."""
        if name is None:
            return self.executor
        found = self._executors.get(name)
        if found is not None:
            return found
        with self._lock:
            if name not in self._executors:
                if self._make_executor is None:
                    raise RuntimeError(f"this run cannot make executor {name!r}")
                self._executors[name] = self._make_executor(name)
            return self._executors[name]

    def close_executors(self, *, cancel: bool) -> None:
        """Close the executors made for steps, and the quarantine (the run's own executor
        is closed by its runner)."""
        with self._lock:
            quarantine, self._quarantine = self._quarantine, None
            others = [e for e in self._executors.values() if e is not self.executor]
            self._executors = {}
        for executor in [*others, *([quarantine] if quarantine is not None else [])]:
            executor.close(cancel=cancel)

    def next_seq(self) -> int:
        return next(self._seq)

    def record(
        self,
        batch: Sequence[Event],
        *,
        values: Sequence[StoredValue] = (),
        log_lines: Sequence[LogLine] = (),
    ) -> None:
        self._check_process()
        if not self._begin_write():
            return  # a step abandoned by a canceled run ended too late to count
        try:  # not under a lock: concurrent steps share the store's group commit
            self.store.commit(batch, values=values, log_lines=log_lines, lease=self.lease)
        except LeaseLost as lost:
            self.lease_lost(lost)
            raise
        finally:
            self._end_write()
        self._observe(batch)

    def defer(self, event: Event) -> None:
        self._check_process()
        if not self._begin_write():
            return
        try:
            self.store.defer(event, lease=self.lease)
        finally:
            self._end_write()
        self._observe([event])

    def log_sink(self, step_key: str, attempt: int) -> LogSink:
        """Where an attempt's output goes, a chunk at a time, while its body runs: its own
        small commits, fenced by the lease like any other. A chunk that cannot be written
        (the run was taken over, or the store failed) is dropped with a warning: the body
        printing must never fail because of it."""
        def write(lines: list[Line]) -> None:
            if self.lost is not None or self._ended:
                return
            try:
                self.record((), log_lines=[
                    LogLine(self.run_id, step_key, attempt, at, stream, level, message)
                    for at, stream, level, message in lines])
            except Exception as error:
                logger.warning("%d lines of output of step '%s' (attempt %d) were dropped: "
                               "%s", len(lines), step_key, attempt, error)
        return write

    def _check_process(self) -> None:
        if os.getpid() != self.pid:
            raise StoreError(
                f"process {os.getpid()} tried to record for run {self.run_id}, which process "
                f"{self.pid} runs: a process forked by a step must not record on its "
                "parent's behalf, so nothing was written",
                hint="end a child forked by a step with os._exit(), or use multiprocessing "
                "or subprocess")

    def _begin_write(self) -> bool:
        with self._writes:
            if self._ended:
                return False
            self._in_flight += 1
            return True

    def _end_write(self) -> None:
        with self._writes:
            self._in_flight -= 1
            if self._ended and not self._in_flight:  # only the run's end waits for it
                self._writes.notify_all()

    def lease_fresh(self) -> bool:
        """Before a body starts: False if the run was taken over. The lease is known to hold
        while less than two thirds of its time to live passed since it began or was last
        renewed, measured from just before the transaction that did it (the third left
        covers clock skew between hosts); past that — the process was frozen or starved, or
        loading the definitions took long — the store decides: the lease is renewed first,
        which fails if another process took the run over, so that no body starts that
        another process may already have run. (The heartbeat renews every third of the
        time to live, so a healthy run never asks.)"""
        lease = self.lease
        if lease is None or time.monotonic() - lease.renewed_at < lease.ttl * FRESH_SHARE:
            return self.lost is None
        try:
            self.store.renew_lease(lease)
        except LeaseLost as lost:
            self.lease_lost(lost)
        return self.lost is None

    def lease_lost(self, lost: LeaseLost) -> None:
        """Another process took the run over: stop starting steps; nothing more is recorded
        (the store would refuse it anyway)."""
        if self._ended:
            return
        if self.lost is None:
            self.lost = lost
        self.canceled.set()

    def end(self, ending: Callable[[], tuple[Sequence[Event], Sequence[StoredValue]]]
            ) -> None:
        """Record how the run ended: ``ending()`` makes the last events (and values) while
        no step can write; whatever a step (abandoned in a thread) records afterwards is
        dropped."""
        with self._writes:
            self._ended = True  # no new write starts; wait for those under way
            self._writes.wait_for(lambda: not self._in_flight)
            batch, values = ending()
            self.store.commit(batch, values=values, lease=self.lease)
        self._observe(batch)

    @property
    def ended(self) -> bool:
        return self._ended

    def _observe(self, batch: Sequence[Event]) -> None:
        if self.observer is not None:
            for item in batch:
                self.observer(item)

    def event(self, payload: Payload, step_key: str | None = None,
              attempt: int | None = None) -> Event:
        """The event of ``payload`` in this run, now."""
        return event(payload, self.run_id, step_key, attempt)

    def finish_step(self, key: str, outcome: StepOutcome) -> None:
        with self._lock:
            self.outcomes[key] = outcome

    def step_results(self) -> dict[str, StepResult]:
        with self._lock:
            items = list(self.outcomes.items())
        return {
            key: StepResult(
                key=key, status=o.status, attempts=o.attempts, error=o.error, reason=o.reason,
                duration=None if o.started_at is None or o.ended_at is None
                else o.ended_at - o.started_at,
            )
            for key, o in items
        }
