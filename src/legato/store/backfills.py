"""Backfills in the store: one row per backfill, and its runs (``runs.backfill_id``).

A backfill's row holds what was asked for (``spec``), its status, how many of its runs
may be queued or running at once, how many partitions it has, and its ``cursor``: the
last partition key enqueued, after which planning resumes. Planning saves the new cursor
only if nobody moved it since it was read (compare-and-set), in the same transaction as
the runs it enqueues; each run's idempotency key (``backfill:<id>@<partition>``) is
unique besides, so no partition is ever enqueued twice by one backfill.

A partition's outcome is its run's status: one run per partition and backfill.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, desc, func, insert, literal_column, select, update

from legato.errors import BackfillNotFoundError
from legato.store import schema
from legato.store.dialects import compile_dialect, compiled_once
from legato.store.events import NO_RUN, BackfillCanceled, RunCanceled, event
from legato.store.gate import apply
from legato.store.queue import enqueue_in
from legato.store.records import Event

if TYPE_CHECKING:
    from legato.store.gate import Statements
    from legato.store.sql_store import SqlStore


class BackfillStatus(StrEnum):
    RUNNING = "running"  # partitions are still to enqueue or to finish
    COMPLETED = "completed"  # every partition succeeded
    FAILED = "failed"  # every partition ended, and some failed (or were canceled)
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillRecord:
    backfill_id: str
    kind: str  # assets (flows: later)
    target: str
    spec: dict[str, Any]
    """What was asked for: ``selection``, ``first``/``last`` or ``keys``, ``params``,
    ``source``, ``rerun_of``."""
    status: BackfillStatus
    max_concurrent: int
    total: int
    cursor: str | None
    created_at: float
    ended_at: float | None = None
    error: str | None = None


class _BackfillSql:
    """The writes, compiled once per dialect."""

    def __init__(self, store: SqlStore) -> None:
        b = schema.backfills
        dialect = compile_dialect(store.engine)

        def sql(stmt: Any) -> str:
            return str(stmt.compile(dialect=dialect))

        running = and_(b.c.backfill_id == bindparam("id"),
                       b.c.status == literal_column("'running'"))
        self.insert = sql(insert(b).values({c.name: bindparam(c.name) for c in b.columns}))
        self.move_cursor = sql(update(b).where(and_(
            running, func.coalesce(b.c.cursor, literal_column("''")) == bindparam("seen")))
            .values(cursor=bindparam("cursor")))
        self.finish = sql(update(b).where(running).values(
            status=bindparam("status"), ended_at=bindparam("ended_at"),
            error=bindparam("error")))
        runs = schema.runs
        self.queued_runs = sql(select(runs.c.run_id).where(and_(
            runs.c.backfill_id == bindparam("id"), runs.c.status == literal_column("'queued'"))))


def _sql(store: SqlStore) -> _BackfillSql:
    return compiled_once(_BackfillSql, store)


# -- reads --------------------------------------------------------------------------------


def get_backfill(store: SqlStore, backfill_id: str) -> BackfillRecord:
    """A backfill by its id, a unique prefix of it, or ``last`` for the newest one."""
    b = schema.backfills
    if backfill_id in ("last", "latest"):
        rows = store.read(select(b).order_by(desc(b.c.created_at)).limit(1))
    elif not backfill_id:
        rows = []
    else:
        rows = store.read(select(b).where(b.c.backfill_id == backfill_id))
        if not rows:
            rows = store.read(select(b).where(
                b.c.backfill_id.startswith(backfill_id, autoescape=True)).limit(2))
    if len(rows) != 1:
        problem = "no backfill" if not rows else "more than one backfill"
        raise BackfillNotFoundError(f"{problem} matches '{backfill_id}'",
                                    hint="list backfills with: legato backfills")
    return _record(rows[0]._mapping)


def list_backfills(store: SqlStore, *, status: str | None = None, limit: int = 20
                   ) -> list[BackfillRecord]:
    """The newest backfills first."""
    b = schema.backfills
    query = select(b).order_by(desc(b.c.created_at)).limit(limit)
    if status is not None:
        query = query.where(b.c.status == status)
    return [_record(row._mapping) for row in store.read(query)]


def run_counts(store: SqlStore, backfill_id: str) -> Counter[str]:
    """How many of the backfill's runs are in each run status."""
    runs = schema.runs
    rows = store.read(select(runs.c.status, func.count().label("n"))
                      .where(runs.c.backfill_id == backfill_id).group_by(runs.c.status))
    return Counter({row.status: int(row.n) for row in rows})


def partitions_with_status(store: SqlStore, backfill_id: str, statuses: Sequence[str]
                           ) -> Iterator[str]:
    """The partition keys whose run (in this backfill) has one of ``statuses``, in order."""
    runs = schema.runs
    query = (select(runs.c.partition_key)
             .where(runs.c.backfill_id == backfill_id, runs.c.status.in_(list(statuses)))
             .order_by(runs.c.partition_key))
    for row in store.read(query):
        yield row.partition_key


# -- writes -------------------------------------------------------------------------------


def create_backfill(store: SqlStore, record: BackfillRecord) -> None:
    q = _sql(store)
    row = {"backfill_id": record.backfill_id, "kind": record.kind, "target": record.target,
           "spec": json.dumps(record.spec, separators=(",", ":")),
           "status": str(record.status), "max_concurrent": record.max_concurrent,
           "total": record.total, "cursor": record.cursor, "created_at": record.created_at,
           "ended_at": record.ended_at, "error": record.error}
    store.writer.transact(lambda cursor, _sql: cursor.execute(q.insert, row))


def enqueue_partitions(store: SqlStore, backfill_id: str, seen_cursor: str | None,
                       cursor: str, events: Sequence[Event]) -> bool:
    """Enqueue the runs of more partitions and move the cursor to ``cursor``, in one
    transaction; only if the backfill still runs and its cursor is still ``seen_cursor``
    (else nothing is written, and False)."""
    q = _sql(store)

    def work(db: Any, sql: Statements) -> bool:
        db.execute(q.move_cursor, {"id": backfill_id, "seen": seen_cursor or "",
                                   "cursor": cursor})
        if db.rowcount != 1:
            return False
        enqueue_in(db, sql, events)
        return True

    return store.writer.transact(work)


def finish_backfill(store: SqlStore, backfill_id: str, status: BackfillStatus,
                    error: str | None = None) -> bool:
    """End a running backfill as completed or failed; False when it was no longer running."""
    q = _sql(store)

    def work(db: Any, _sql: Statements) -> bool:
        db.execute(q.finish, {"id": backfill_id, "status": str(status),
                              "ended_at": time.time(), "error": error})
        return bool(db.rowcount == 1)

    return store.writer.transact(work)


def cancel_backfill(store: SqlStore, backfill_id: str, reason: str) -> int | None:
    """Cancel a running backfill and its queued runs (running ones finish); how many runs
    were canceled, or None when the backfill was no longer running."""
    q = _sql(store)

    def work(db: Any, sql: Statements) -> int | None:
        now = time.time()
        db.execute(q.finish, {"id": backfill_id, "status": str(BackfillStatus.CANCELED),
                              "ended_at": now, "error": reason})
        if db.rowcount != 1:
            return None
        db.execute(q.queued_runs, {"id": backfill_id})
        queued = [row[0] for row in db.fetchall()]
        # each under a savepoint: a run a worker claimed meanwhile (PostgreSQL) runs on
        done = enqueue_in(db, sql, [event(RunCanceled(queued=True, error=reason), run_id,
                                          at=now) for run_id in queued])
        apply(sql, db, [event(BackfillCanceled(backfill_id=backfill_id, reason=reason,
                                               runs_canceled=sum(done)),
                              NO_RUN, backfill_id, at=now)], (), ())
        return sum(done)

    return store.writer.transact(work)


def _record(m: Any) -> BackfillRecord:
    return BackfillRecord(
        backfill_id=m["backfill_id"], kind=m["kind"], target=m["target"],
        spec=json.loads(m["spec"]), status=BackfillStatus(m["status"]),
        max_concurrent=m["max_concurrent"], total=int(m["total"] or 0), cursor=m["cursor"],
        created_at=m["created_at"], ended_at=m["ended_at"], error=m["error"])

