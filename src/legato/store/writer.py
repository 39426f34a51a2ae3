"""The store's single write path: the transition gate on a raw DBAPI connection.

``commit`` writes events (and the values and log lines they refer to) in one transaction
and returns only once it is committed. ``defer`` queues an event that need not be durable
before work proceeds (a step starting): it is written with the next commit, or by a
background flush after ``DEFER_S`` so that a long step still shows as running.

Group commit: a thread that commits while another one is writing queues its request; when
the writer is free, the next thread takes every queued request and writes them all in one
transaction, sharing one commit and, with ``durability="full"``, one sync to disk. When one
request fails on its own account (it does not apply, its data cannot be stored, or any error
that is not the connection's), they are written again one by one, so that it alone fails and
the others commit. An error of the connection itself (the database is down) reaches every
request. The deferred events are never lost to another request's failure: they are written
on their own first, and only one that itself does not apply or cannot be stored is dropped.

Fencing: a request made under a ``Lease`` first checks that its token is still the run's
(on PostgreSQL, locking the run's row until the commit); when another process took the run
over, the request is rejected as a whole (``LeaseLost``) and logged. ``renew`` pushes a
lease's expiry ahead (the heartbeat), on the same condition.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from legato.errors import IllegalTransition, LeaseLost, StoreError, UnstorableError
from legato.store.dialects import begin_write
from legato.store.gate import Statements, apply, fence, renew
from legato.store.records import Event, Lease, LogLine, StoredValue

DEFER_S = 0.2
T = TypeVar("T")
logger = logging.getLogger(__name__)


class _Request:
    __slots__ = ("batch", "done", "error", "lease", "log_lines", "renew", "values")

    def __init__(self, batch: Sequence[Event], values: Sequence[StoredValue],
                 log_lines: Sequence[LogLine], lease: Lease | None, *,
                 renew: bool = False) -> None:
        self.batch = batch
        self.values = values
        self.log_lines = log_lines
        self.lease = lease
        self.renew = renew
        self.done = False
        self.error: BaseException | None = None


_Deferred = tuple[Event, Lease | None]


class StoreWriter:
    def __init__(
        self,
        connect: Callable[[], Any],
        statements: Statements,
        dialect_name: str,
        describe_error: Callable[[BaseException], StoreError],
        driver_errors: tuple[type[BaseException], ...],
    ) -> None:
        self._connect = connect
        self._connection: Any = None
        self._pid = 0  # the process that opened the connection
        self._sql = statements
        self._dialect = dialect_name
        self._describe = describe_error
        self._driver_errors = driver_errors
        self._lock = threading.Lock()  # held by the thread writing for everyone
        self._queue: deque[_Request] = deque()
        self._pending_lock = threading.Lock()
        self._pending: list[_Deferred] = []
        self._pending_since = 0.0
        self._flusher: threading.Thread | None = None
        self._closed = threading.Event()
        self.groups = 0
        """Transactions that carried more than one request (group commits)."""

    def commit(
        self,
        batch: Sequence[Event],
        *,
        values: Sequence[StoredValue] = (),
        log_lines: Sequence[LogLine] = (),
        lease: Lease | None = None,
    ) -> None:
        self._submit(_Request(batch, values, log_lines, lease))

    def renew(self, lease: Lease) -> None:
        """Push ``lease``'s expiry ``lease.ttl`` ahead; ``LeaseLost`` if it was taken over."""
        self._submit(_Request((), (), (), lease, renew=True))

    def _submit(self, request: _Request) -> None:
        self._check_process()
        self._queue.append(request)
        with self._lock:
            if not request.done:  # else a thread that wrote before us took it along
                self._lead()
        if request.error is not None:
            raise request.error

    def transact(self, work: Callable[[Any, Statements], T], *,
                 deferred_first: bool = True) -> T:
        """Run ``work(cursor, statements)`` in one write transaction of its own (the run
        queue and the scheduler's writes: several statements that must hold together);
        ``work`` may write events with ``apply``. Deferred events are written first, unless
        ``work`` cannot depend on them (a worker's claims touch queued runs only: their
        transaction need not wait for another)."""
        box: list[T] = []

        def run(cursor: Any, _renewed: list[Lease]) -> None:
            box.append(work(cursor, self._sql))

        self._check_process()
        with self._lock:
            self._check_open()
            pending = self._take_pending() if deferred_first else []
            if pending:
                self._write_pending_alone(pending)
            self._transaction(run)
        return box[0]

    def defer(self, event: Event, *, lease: Lease | None = None) -> None:
        self._check_process()
        self._check_open()
        with self._pending_lock:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append((event, lease))
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="legato-store-flush", daemon=True
                )
                self._flusher.start()

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise StoreError("the store was closed; this write came too late (the run had "
                             "already ended)")

    def _check_process(self) -> None:
        """Refuse to write from a process forked after the connection was opened: the
        connection is the parent's (sharing it corrupts both sides' transactions), and so is
        whatever lease the write carries."""
        if self._connection is not None and self._pid != os.getpid():
            raise StoreError(
                f"process {os.getpid()} tried to write to the store through a connection "
                f"opened by process {self._pid}, which it was forked from: a forked process "
                "must not write on its parent's behalf, so the write was refused",
                hint="open a store of its own in the child process (or use multiprocessing "
                "with the spawn or forkserver start method), and end a child forked by a step "
                "with os._exit()")

    def _take_pending(self) -> list[_Deferred]:
        with self._pending_lock:
            pending, self._pending = self._pending, []
        return pending

    def flush(self) -> None:
        with self._lock:
            pending = self._take_pending()
            if pending:
                self._write_pending_alone(pending)

    # -- writing (the caller holds self._lock) ------------------------------------------

    def _lead(self) -> None:
        """Write every queued request; the deferred events go first. The queue is drained
        before the deferred events are taken: a request's own deferred start was queued
        before the request, so it is among them."""
        requests: list[_Request] = []
        while self._queue:
            requests.append(self._queue.popleft())
        pending = self._take_pending()
        try:
            self._check_open()
            if len(requests) == 1:
                self._write_one(pending, requests[0])
            else:
                self._write_group(pending, requests)
        except BaseException as error:  # the connection's (or our) error: everyone's
            for request in requests:
                if not request.done:
                    request.error = error
        finally:
            for request in requests:
                request.done = True

    def _write_one(self, pending: list[_Deferred], request: _Request) -> None:
        lease = request.lease
        if not pending:
            self._write_alone(request)
            return
        if all(deferred is lease for _, deferred in pending):  # the usual case: one run
            leases = [] if lease is None else [lease]
        else:
            leases = _leases([deferred for _, deferred in pending] + [lease])
        try:
            self._write([e for e, _ in pending] + list(request.batch), request.values,
                        request.log_lines, leases, renewing=request.renew)
        except Exception as error:
            if not _own(error):
                raise
            self._write_pending_alone(pending)  # find out whose event does not fit
            self._write_alone(request)

    def _write_group(self, pending: list[_Deferred], requests: list[_Request]) -> None:
        """One transaction for all: the deferred events, then each request. If one of them
        fails on its own account (rare), the transaction is rolled back and they are
        written one by one, so that it alone fails. (Optimistic: a savepoint per request
        cost two statements each, round trips on PostgreSQL.)"""
        def attempt(cursor: Any, renewed: list[Lease]) -> None:
            if pending:
                self._apply(cursor, [e for e, _ in pending], (), (),
                            leases=_leases([lease for _, lease in pending]), renewed=renewed)
            for request in requests:
                self._apply(cursor, request.batch, request.values, request.log_lines,
                            leases=_leases([request.lease]), renewed=renewed,
                            renewing=request.renew)

        self.groups += 1
        try:
            self._transaction(attempt)
        except Exception as error:
            if not _own(error):
                raise
            if pending:
                self._write_pending_alone(pending)
            for request in requests:
                self._write_alone(request)  # the connection's error goes to those left

    def _write_alone(self, request: _Request) -> None:
        """Write one request in its own transaction; an error of its own is its alone (and
        it is marked done), the connection's is raised for every request still waiting."""
        try:
            self._write(request.batch, request.values, request.log_lines,
                        _leases([request.lease]), renewing=request.renew)
        except Exception as error:
            if not _own(error):
                raise
            request.error = _logged(error)
        request.done = True

    def _write_pending_alone(self, pending: list[_Deferred]) -> None:
        """Write the deferred events on their own. If one of them does not fit the state
        (its step was settled meanwhile, e.g. canceled, or its lease was taken over) or
        cannot be stored, drop it rather than let it poison every later commit: they only
        ever announce that an attempt started."""
        try:
            self._write([e for e, _ in pending], (), (), _leases([x for _, x in pending]))
        except Exception as error:
            if not _own(error):
                raise
            for event, lease in pending:  # rare: one by one, to keep those that still apply
                try:
                    self._write([event], (), (), _leases([lease]))
                except Exception as one:
                    if not _own(one):
                        raise
                    logger.warning("dropped a deferred event that cannot be written: %s", one)

    def close(self) -> None:
        if self._connection is not None and self._pid != os.getpid():
            # a forked child's copy: the connection is the parent's, not to be closed (on
            # PostgreSQL that would end the parent's session) nor written through
            self._connection = None
            self._closed.set()
            return
        try:
            self.flush()
        finally:
            self._closed.set()
            with self._lock:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None

    def _flush_loop(self) -> None:
        while not self._closed.wait(DEFER_S / 2):
            if self._pending and time.monotonic() - self._pending_since >= DEFER_S:
                with contextlib.suppress(StoreError):  # the next commit reports it
                    self.flush()

    def _apply(self, cursor: Any, batch: Sequence[Event], values: Sequence[StoredValue],
               log_lines: Sequence[LogLine], *, leases: list[Lease], renewed: list[Lease],
               renewing: bool = False) -> None:
        if renewing:
            for lease in leases:
                renew(self._sql, cursor, lease, time.time())
                renewed.append(lease)
        elif len(leases) == 1 and batch:  # the usual case: fenced by the first event's insert
            apply(self._sql, cursor, batch, values, log_lines, lease=leases[0])
            return
        else:
            for lease in leases:
                fence(self._sql, cursor, lease)
        apply(self._sql, cursor, batch, values, log_lines)

    def _write(self, batch: Sequence[Event], values: Sequence[StoredValue],
               log_lines: Sequence[LogLine], leases: list[Lease], *,
               renewing: bool = False) -> None:
        self._transaction(lambda cursor, renewed: self._apply(
            cursor, batch, values, log_lines, leases=leases, renewed=renewed,
            renewing=renewing))

    def _transaction(self, work: Callable[[Any, list[Lease]], None]) -> None:
        """Run ``work`` in one write transaction and commit it; the leases it renewed are
        marked renewed once the commit returned, as of just before it began (so that a
        lease is never thought fresher than the store has it)."""
        renewed: list[Lease] = []
        at = time.monotonic()
        try:
            if self._connection is None:
                self._connection = self._connect()
                self._pid = os.getpid()
            connection = self._connection
            cursor = connection.cursor()
            try:
                # inside the try: a Ctrl-C raised as BEGIN returns (it waited for the lock)
                # must not leave the transaction open, holding SQLite's write lock
                begin_write(cursor, self._dialect)
                work(cursor, renewed)
            except BaseException:
                self._rollback(connection)
                raise
            if self._dialect == "sqlite":
                cursor.execute("COMMIT")
            else:
                connection.commit()
        except (IllegalTransition, UnstorableError):
            raise
        except self._driver_errors as error:
            self._drop_connection()
            raise self._describe(error) from error
        for lease in renewed:
            lease.renewed_at = at

    def _rollback(self, connection: Any) -> None:
        try:
            if self._dialect != "sqlite":
                connection.rollback()
            elif connection.in_transaction:
                connection.execute("ROLLBACK")
        except self._driver_errors:
            self._drop_connection()

    def _drop_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None


def _leases(leases: Sequence[Lease | None]) -> list[Lease]:
    """The distinct leases of a transaction (usually one, often none)."""
    found: list[Lease] = []
    for lease in leases:
        if lease is not None and not any(lease is known for known in found):
            found.append(lease)
    return found


def _own(error: Exception) -> bool:
    """Whether ``error`` belongs to the request that was written, not to the connection:
    it does not apply, its data cannot be stored, or anything else than a driver error
    (which the transaction reports as a plain ``StoreError``: the database is down, the disk
    full, ...)."""
    return not isinstance(error, StoreError) or isinstance(error, IllegalTransition
                                                           | UnstorableError)


def _logged(error: Exception) -> Exception:
    if isinstance(error, LeaseLost):
        logger.warning("%s", error)
    elif isinstance(error, UnstorableError):
        logger.warning("%s (%s)", error, error.hint)
    return error
