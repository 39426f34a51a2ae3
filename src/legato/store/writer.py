"""The store's single write path: the transition gate on a raw DBAPI connection.

``commit`` writes events (and the values and log lines they refer to) in one transaction
and returns only once it is committed. ``defer`` queues an event that need not be durable
before work proceeds (a step starting): it is written with the next commit, or by a
background flush after ``DEFER_S`` so that a long step still shows as running.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from legato.errors import IllegalTransition, StoreError
from legato.store.dialects import begin_write
from legato.store.gate import Statements, apply
from legato.store.records import Event, LogLine, StoredValue

DEFER_S = 0.2
logger = logging.getLogger(__name__)


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
        self._sql = statements
        self._dialect = dialect_name
        self._describe = describe_error
        self._driver_errors = driver_errors
        self._lock = threading.Lock()
        self._pending: list[Event] = []
        self._pending_since = 0.0
        self._flusher: threading.Thread | None = None
        self._closed = threading.Event()

    def commit(
        self,
        batch: Sequence[Event],
        *,
        values: Sequence[StoredValue] = (),
        log_lines: Sequence[LogLine] = (),
    ) -> None:
        with self._lock:
            self._check_open()
            if not self._pending:
                self._write(batch, values, log_lines)
                return
            try:
                self._write([*self._pending, *batch], values, log_lines)
            except IllegalTransition:
                self._write_pending_alone()  # find out whose event does not fit
                self._write(batch, values, log_lines)
            self._pending = []

    def defer(self, event: Event) -> None:
        with self._lock:
            self._check_open()
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append(event)
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="legato-store-flush", daemon=True
                )
                self._flusher.start()

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise StoreError("the store was closed; this write came too late (the run had "
                             "already ended)")

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._write_pending_alone()

    def _write_pending_alone(self) -> None:
        """Write the deferred events on their own. If one of them does not fit the state
        (its step was settled meanwhile, e.g. canceled), drop them rather than let them
        poison every later commit: they only ever announce that an attempt started."""
        pending, self._pending = self._pending, []
        try:
            self._write(pending, (), ())
        except IllegalTransition:
            for event in pending:  # rare: one by one, to keep those that still apply
                try:
                    self._write([event], (), ())
                except IllegalTransition as error:
                    logger.warning("dropped a deferred event that no longer applies: %s",
                                   error)

    def close(self) -> None:
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

    def _write(
        self, batch: Sequence[Event], values: Sequence[StoredValue], log_lines: Sequence[LogLine]
    ) -> None:
        try:
            if self._connection is None:
                self._connection = self._connect()
            connection = self._connection
            cursor = connection.cursor()
            begin_write(cursor, self._dialect)
            try:
                apply(self._sql, cursor, batch, values, log_lines)
            except BaseException:
                self._rollback(connection)
                raise
            if self._dialect == "sqlite":
                cursor.execute("COMMIT")
            else:
                connection.commit()
        except IllegalTransition:
            raise
        except self._driver_errors as error:
            self._drop_connection()
            raise self._describe(error) from error

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
