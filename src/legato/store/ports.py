"""The store's interface: one small port per concern, so that the engine, the daemons and
the services depend on what they use, not on ``SqlStore``'s SQL.

- ``RunStore``: the event log and its projections (runs, steps, logs, values,
  materializations); every write is a batch of events through the gate.
- ``QueueStore``: runs waiting for a worker: enqueue, claim, list, and a wake-up.
- ``TriggerStore``: schedules' and sensors' state and ticks, and the singleton daemon's
  lease.
- ``BackfillStore``: backfills and their partitions' runs.
- (The definitions catalog has a port of its own, ``store/catalog.py``.)

``SqlStore`` implements them all on SQLite and PostgreSQL; the conformance suite
(``tests/store/``) is written against these ports. Where the two databases differ, the
store says what it can do (``Capabilities``) and the callers ask it, never the dialect's
name: every branch on the dialect lives in the store package.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from legato.store.records import (
    Event,
    Lease,
    LogLine,
    MaterializationRecord,
    RunRecord,
    StepRecord,
    StoredValue,
)

if TYPE_CHECKING:
    from legato.store.backfills import BackfillRecord, BackfillStatus
    from legato.store.queue import RunLimits
    from legato.store.triggers import EvaluationSave, TickRecord, TriggerState


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What a store's database can do, where SQLite and PostgreSQL differ."""

    listen_notify: bool
    """A worker waiting on an empty queue is woken when a run is enqueued (PostgreSQL's
    ``LISTEN``/``NOTIFY``); without it, the worker polls (``idle_poll_max_s``)."""
    skip_locked: bool
    """Concurrent claimers skip each other's candidate runs (``FOR UPDATE SKIP LOCKED``);
    without it, one writer at a time claims (SQLite's ``BEGIN IMMEDIATE``)."""
    concurrent_schedulers: bool
    """Several schedulers may evaluate triggers at once (their saves are compare-and-set).
    Without it (SQLite: one writer), one scheduler at a time holds the daemon lease and
    the others stand by."""
    idle_poll_max_s: float
    """The longest a worker waits between two looks at an empty queue."""


@runtime_checkable
class RunStore(Protocol):
    """The event log and its projections."""

    @property
    def capabilities(self) -> Capabilities: ...

    def commit(self, batch: Sequence[Event], *, values: Sequence[StoredValue] = (),
               log_lines: Sequence[LogLine] = (), lease: Lease | None = None) -> None: ...

    def defer(self, event: Event, *, lease: Lease | None = None) -> None: ...

    def renew_lease(self, lease: Lease) -> None: ...

    def get_run(self, run_id: str) -> RunRecord: ...

    def list_runs(self, *, status: str | None = None, target: str | None = None,
                  since: float | None = None, limit: int = 50) -> list[RunRecord]: ...

    def find_run_by_idempotency_key(self, key: str) -> RunRecord | None: ...

    def list_expired_runs(self, now: float, *, limit: int = 100) -> list[RunRecord]: ...

    def get_steps(self, run_id: str) -> list[StepRecord]: ...

    def get_events(self, run_id: str) -> list[Event]: ...

    def events_outside_runs(self, *, subject: str | None = None, after: int = 0,
                            limit: int = 100) -> list[Event]: ...

    def get_logs(self, run_id: str, step_key: str | None = None) -> list[LogLine]: ...

    def get_value(self, value_id: str) -> StoredValue | None: ...

    def get_values(self, value_ids: Sequence[str]) -> dict[str, StoredValue]: ...

    def get_materialization(self, materialization_id: str
                            ) -> MaterializationRecord | None: ...

    def find_cached(self, cache_key: str, not_before: float | None
                    ) -> tuple[str, str] | None: ...

    def latest_materialization(self, asset_key: str, partition_key: str | None = None
                               ) -> MaterializationRecord | None: ...

    def latest_partition_materializations(self, asset_key: str,
                                          partition_keys: Sequence[str]
                                          ) -> dict[str, MaterializationRecord]: ...

    def partition_counts(self) -> dict[str, int]: ...

    def list_materializations(self, asset_key: str, limit: int = 20
                              ) -> list[MaterializationRecord]: ...

    def latest_materializations(self) -> dict[str, MaterializationRecord]: ...

    def latest_materialization_ids(self, asset_keys: Sequence[str]) -> dict[str, str]: ...


@runtime_checkable
class QueueStore(Protocol):
    """Runs waiting for a worker (``store/queue.py``)."""

    @property
    def capabilities(self) -> Capabilities: ...

    def enqueue(self, events: Sequence[Event]) -> list[bool]: ...

    def claim(self, owner: str, lease_s: float, *, limit: int = 1,
              limits: RunLimits | None = None) -> list[RunRecord]: ...

    def queued_runs(self, *, target: str | None = None, since: float | None = None,
                    limit: int = 50) -> list[RunRecord]: ...

    def listen_for_queued(self, wake: threading.Event) -> Callable[[], None] | None: ...


@runtime_checkable
class TriggerStore(Protocol):
    """Triggers' state and ticks, and the singleton daemon's lease (``store/triggers.py``).
    """

    def read_triggers(self) -> dict[str, TriggerState]: ...

    def list_ticks(self, trigger_key: str | None = None, *, limit: int = 20
                   ) -> list[TickRecord]: ...

    def last_ticks(self) -> dict[str, TickRecord]: ...

    def save_evaluations(self, saves: Sequence[EvaluationSave]
                         ) -> list[list[bool] | None]: ...

    def set_paused(self, trigger_key: str, paused: bool) -> None: ...

    def hold_daemon(self, role: str, owner: str, ttl: float) -> bool: ...

    def release_daemon(self, role: str, owner: str, *, reason: str = "released") -> None: ...

    def daemon_holder(self, role: str) -> tuple[str, float] | None: ...


@runtime_checkable
class BackfillStore(Protocol):
    """Backfills and their runs (``store/backfills.py``)."""

    def create_backfill(self, record: BackfillRecord) -> None: ...

    def get_backfill(self, backfill_id: str) -> BackfillRecord: ...

    def list_backfills(self, *, status: str | None = None, limit: int = 20
                       ) -> list[BackfillRecord]: ...

    def backfill_run_counts(self, backfill_id: str) -> Counter[str]: ...

    def partitions_with_status(self, backfill_id: str, statuses: Sequence[str]
                               ) -> Iterator[str]: ...

    def enqueue_partitions(self, backfill_id: str, seen_cursor: str | None, cursor: str,
                           events: Sequence[Event]) -> bool: ...

    def finish_backfill(self, backfill_id: str, status: BackfillStatus,
                        error: str | None = None) -> bool: ...

    def cancel_backfill(self, backfill_id: str, reason: str) -> int | None: ...


class Store(RunStore, QueueStore, TriggerStore, BackfillStore, Protocol):
    """Every port at once: what a daemon process opens."""
