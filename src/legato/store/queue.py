"""The run queue: runs requested by triggers, backfills and ``legato trigger`` wait here
(status ``queued``) until a worker claims them.

Enqueueing is a ``run_queued`` event; a run's idempotency key (``schedule:nightly@<tick>``)
is unique, so a request made twice (two schedulers, a restarted one) enqueues one run.
Claiming picks the queued runs with the highest priority, oldest first, that the limits
allow, and leases each to the worker in the same transaction (``run_claimed``). On
PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED``, so claimers never
wait for each other nor take the same run; when limits are set, claimers take turns (a
transaction-scoped advisory lock) so that counts are exact. On SQLite, one writer at a
time claims (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, bindparam, desc, func, literal_column, select

from legato.errors import IllegalTransition
from legato.store import schema
from legato.store.dialects import compile_dialect, compiled_once
from legato.store.events import RunClaimed, RunQueued, event, payload_of
from legato.store.gate import Statements, apply
from legato.store.records import Event, RunRecord, RunStatus

if TYPE_CHECKING:
    from legato.store.sql_store import SqlStore

_LIMITS_LOCK = zlib.crc32(b"legato:run-queue-limits")


@dataclass(frozen=True, slots=True)
class RunLimits:
    """How many runs may run at once: in all (``max_runs``), and per run tag
    (``tags={"warehouse": 4, "flow:nightly": 1}``; a flow's runs carry ``flow:<name>``)."""

    max_runs: int | None = None
    tags: Mapping[str, int] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return self.max_runs is not None or bool(self.tags)

    def allows(self, running: int, tag_counts: Counter[str], tags: Sequence[str]) -> bool:
        if self.max_runs is not None and running >= self.max_runs:
            return False
        return all(tag_counts[t] < self.tags[t] for t in tags if t in self.tags)


NO_LIMITS = RunLimits()


def queued_event(run_id: str, *, kind: str, target: str, params: Mapping[str, Any],
                 source: str | None, tags: Sequence[str] = (), priority: int = 0,
                 partition_key: str | None = None, trigger_key: str | None = None,
                 backfill_id: str | None = None, idempotency_key: str | None = None,
                 selection: Sequence[str] | None = None, at: float | None = None,
                 logical: Mapping[str, Any] | None = None) -> Event:
    """The event that enqueues a run. A flow's run is tagged ``flow:<name>`` (for per-flow
    limits); ``selection`` is an asset run's asset keys; ``logical`` a scheduled run's
    ``scheduled_at``, ``data_interval`` and ``ds`` (``scheduler/logical.py``), which the
    run's steps see as ``ctx.scheduled_at`` and ``ctx.data_interval``, resumed or not."""
    all_tags = list(dict.fromkeys([*tags, *([f"flow:{target}"] if kind == "flow" else [])]))
    return event(RunQueued(
        kind=kind, target=target, params=dict(params), source=source, tags=all_tags,
        priority=priority, partition_key=partition_key, trigger_key=trigger_key,
        backfill_id=backfill_id, idempotency_key=idempotency_key,
        selection=list(selection) if selection is not None else None,
        **(logical or {})), run_id, at=at)


def enqueue_in(cursor: Any, sql: Statements, events: Sequence[Event]) -> list[bool]:
    """Within a transaction: enqueue each run, each under a savepoint; False for a run
    whose idempotency key was enqueued before (it is not enqueued again). Any other conflict
    (a run id taken) raises: a run is never dropped silently. On PostgreSQL, the workers
    waiting for runs are notified when the transaction commits."""
    done = []
    for request in events:
        cursor.execute("SAVEPOINT legato_enqueue")
        try:
            apply(sql, cursor, [request], (), ())
        except IllegalTransition:
            cursor.execute("ROLLBACK TO SAVEPOINT legato_enqueue")
            key = payload_of(request).idempotency_key
            if key is not None:
                cursor.execute(sql.key_taken, {"key": key})
            if key is None or cursor.fetchone() is None:
                raise
            done.append(False)
        else:
            done.append(True)
        cursor.execute("RELEASE SAVEPOINT legato_enqueue")
    if sql.notify_queued is not None and any(done):
        cursor.execute(sql.notify_queued)  # delivered when the transaction commits
    return done


def enqueue(store: SqlStore, events: Sequence[Event]) -> list[bool]:
    """Enqueue runs (``queued_event``) in one transaction; False for each one whose
    idempotency key was enqueued before."""
    if not events:
        return []
    return store.writer.transact(lambda cursor, sql: enqueue_in(cursor, sql, events))


class _QueueSql:
    """The claim's statements, compiled once per dialect."""

    def __init__(self, store: SqlStore) -> None:
        runs = schema.runs
        dialect = compile_dialect(store.engine)
        queued = runs.c.status == literal_column("'queued'")
        running = runs.c.status == literal_column("'running'")
        # One priority at a time: the index (status, priority, created_at) gives each
        # level's oldest runs at once, where ORDER BY priority DESC, created_at sorted the
        # whole queue (10 ms per claim with 20,000 runs queued on PostgreSQL).
        candidates = (select(runs).where(queued, runs.c.priority == bindparam("p"))
                      .order_by(runs.c.created_at)
                      .limit(bindparam("n", type_=Integer)).offset(literal_column("0")))
        if store.capabilities.skip_locked:
            candidates = candidates.with_for_update(skip_locked=True)
        self.candidates = str(candidates.compile(dialect=dialect))
        self.top_priority = str(select(func.max(runs.c.priority)).where(queued)
                                .compile(dialect=dialect))
        self.next_priority = str(select(func.max(runs.c.priority))
                                 .where(queued, runs.c.priority < bindparam("p"))
                                 .compile(dialect=dialect))
        self.running_count = str(select(func.count()).select_from(runs).where(running)
                                 .compile(dialect=dialect))
        self.running_tags = str(select(runs.c.tags).where(running).compile(dialect=dialect))


def _sql(store: SqlStore) -> _QueueSql:
    return compiled_once(_QueueSql, store)


def claim(store: SqlStore, owner: str, lease_s: float, *, limit: int = 1,
          limits: RunLimits = NO_LIMITS) -> list[RunRecord]:
    """Claim up to ``limit`` queued runs for ``owner`` (a worker), leased for ``lease_s``
    seconds, within ``limits``; the runs, now running. A run is claimed by one worker only.
    """
    if limit <= 0:
        return []
    q = _sql(store)

    def work(cursor: Any, sql: Statements) -> list[RunRecord]:
        if limits.any and store.capabilities.skip_locked:  # claimers run side by side
            cursor.execute("SELECT pg_advisory_xact_lock(%(k)s)", {"k": _LIMITS_LOCK})
        running, tag_counts = 0, Counter[str]()
        if limits.any:
            cursor.execute(q.running_count, {})
            running = int(cursor.fetchone()[0])
            if limits.tags:
                cursor.execute(q.running_tags, {})
                for (tags,) in cursor.fetchall():
                    tag_counts.update(json.loads(tags))
        # with limits, look further down the queue: a blocked run does not block others
        rows = _candidates(cursor, q, limit * 4 if limits.tags else limit)
        now = time.time()
        claimed: list[RunRecord] = []
        events = []
        for row in rows:
            if len(claimed) == limit:
                break
            tags = json.loads(row["tags"])
            if not limits.allows(running, tag_counts, tags):
                continue
            running += 1
            tag_counts.update(tags)
            events.append(event(RunClaimed(owner=owner, lease_s=lease_s), row["run_id"],
                                at=now))
            claimed.append(dataclasses.replace(
                _record(row), status=RunStatus.RUNNING, lease_owner=owner, lease_token=1,
                lease_expires_at=now + lease_s, started_at=now))
        if events:
            apply(sql, cursor, events, (), ())
        return claimed

    # the deferred starts of running runs cannot matter to queued ones: they ride with
    # their own runs' next commits
    return store.writer.transact(work, deferred_first=False)


def _candidates(cursor: Any, q: _QueueSql, n: int) -> list[dict[str, Any]]:
    """Up to ``n`` queued runs, highest priority first, then oldest (locked on
    PostgreSQL; runs other claimers hold are skipped)."""
    rows: list[dict[str, Any]] = []
    cursor.execute(q.top_priority, {})
    level = cursor.fetchone()[0]
    while level is not None:
        cursor.execute(q.candidates, {"p": level, "n": n - len(rows)})
        names = [d[0] for d in cursor.description]
        rows.extend(dict(zip(names, row, strict=True)) for row in cursor.fetchall())
        if len(rows) >= n:
            break
        cursor.execute(q.next_priority, {"p": level})
        level = cursor.fetchone()[0]
    return rows


def _record(row: dict[str, Any]) -> RunRecord:
    from legato.store.records import run_record

    return run_record(row)


def queued_runs(store: SqlStore, *, target: str | None = None, since: float | None = None,
                limit: int = 50) -> list[RunRecord]:
    """The queue as workers see it: queued runs in the order they will be claimed (highest
    priority first, then oldest), limits aside; only those of ``target`` and those queued
    at or after ``since``, when given. The filters are part of the query, so ``limit``
    counts matching runs only."""
    runs = schema.runs
    query = select(runs).where(runs.c.status == RunStatus.QUEUED)
    if target is not None:
        query = query.where(schema.runs_of(target))
    if since is not None:
        query = query.where(runs.c.created_at >= since)
    query = query.order_by(desc(runs.c.priority), runs.c.created_at).limit(limit)
    return [_record(dict(row._mapping)) for row in store.read(query)]
