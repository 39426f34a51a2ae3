"""Trigger state in the store: each trigger's cursor, whether it is paused, and the history
of its ticks; and the lease of a singleton daemon (the scheduler on SQLite).

A scheduler reads a trigger's state, evaluates it, and saves the evaluation with
``save_evaluation``: in one transaction, the new cursor (only if the trigger's ``version``
is still the one it read: compare-and-set), the runs it requests (each under its unique
idempotency key) and the ticks' history. When two schedulers evaluate the same trigger,
one saves and the other's evaluation is dropped whole; a tick never makes two runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, desc, func, insert, literal_column, or_, select, update

from legato.store import schema
from legato.store.dialects import compile_dialect, compiled_once, insert_for
from legato.store.events import (
    NO_RUN,
    DaemonAcquired,
    DaemonLost,
    TriggerPaused,
    TriggerResumed,
    event,
)
from legato.store.gate import apply
from legato.store.queue import enqueue_in
from legato.store.records import Event

if TYPE_CHECKING:
    from legato.store.gate import Statements
    from legato.store.sql_store import SqlStore


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerState:
    trigger_key: str
    cursor: str | None
    version: int
    paused: bool
    updated_at: float
    last_evaluated_at: float | None
    last_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TickRecord:
    """What one tick of a trigger did: ``requested`` a run, was ``skipped`` (catch-up
    policy, a duplicate), or ``failed`` (a sensor raised or timed out)."""

    trigger_key: str
    tick_key: str | None
    at: float
    status: str  # requested | skipped | failed
    run_id: str | None = None
    detail: str | None = None
    tick_id: int | None = None


class _TriggerSql:
    def __init__(self, store: SqlStore) -> None:
        t, ticks, daemons = schema.triggers, schema.trigger_ticks, schema.daemons
        dialect = compile_dialect(store.engine)

        def sql(stmt: Any) -> str:
            return str(stmt.compile(dialect=dialect))

        upsert = insert_for(store.dialect)
        next_version = t.c.version + literal_column("1")
        self.create = sql(upsert(t).values(
            trigger_key=bindparam("key"), cursor=bindparam("cursor"), version=literal_column("1"),
            paused=bindparam("paused"), updated_at=bindparam("now"),
            last_evaluated_at=bindparam("evaluated_at"), last_error=bindparam("error"),
        ).on_conflict_do_nothing(index_elements=[t.c.trigger_key]))
        self.save = sql(update(t).where(and_(
            t.c.trigger_key == bindparam("key"), t.c.version == bindparam("seen")))
            .values(cursor=bindparam("cursor"), version=next_version,
                    updated_at=bindparam("now"), last_evaluated_at=bindparam("evaluated_at"),
                    last_error=bindparam("error")))
        self.pause = sql(update(t).where(t.c.trigger_key == bindparam("key"))
                         .values(paused=bindparam("paused"), version=next_version,
                                 updated_at=bindparam("now")))
        self.tick = sql(insert(ticks).values(
            trigger_key=bindparam("trigger_key"), tick_key=bindparam("tick_key"),
            at=bindparam("at"), status=bindparam("status"), run_id=bindparam("run_id"),
            detail=bindparam("detail")))
        self.hold = sql(update(daemons).where(and_(
            daemons.c.role == bindparam("role"),
            or_(daemons.c.owner == bindparam("owner"), daemons.c.expires_at <= bindparam("now"))))
            .values(owner=bindparam("owner"), expires_at=bindparam("expires_at")))
        self.claim_role = sql(upsert(daemons).values(
            role=bindparam("role"), owner=bindparam("owner"), started_at=bindparam("now"),
            expires_at=bindparam("expires_at"),
        ).on_conflict_do_nothing(index_elements=[daemons.c.role]))
        self.holder = sql(select(daemons.c.owner).where(daemons.c.role == bindparam("role"))
                          .with_for_update())
        self.release = sql(daemons.delete().where(and_(
            daemons.c.role == bindparam("role"), daemons.c.owner == bindparam("owner"))))


def _sql(store: SqlStore) -> _TriggerSql:
    return compiled_once(_TriggerSql, store)


# -- reads --------------------------------------------------------------------------------


def read_triggers(store: SqlStore) -> dict[str, TriggerState]:
    """Every trigger's state, by key."""
    rows = store.read(select(schema.triggers))
    return {row.trigger_key: TriggerState(
        trigger_key=row.trigger_key, cursor=row.cursor, version=row.version,
        paused=bool(row.paused), updated_at=row.updated_at,
        last_evaluated_at=row.last_evaluated_at, last_error=row.last_error) for row in rows}


def list_ticks(store: SqlStore, trigger_key: str | None = None, *, limit: int = 20
               ) -> list[TickRecord]:
    """The newest ticks (of one trigger, or of all), newest first."""
    ticks = schema.trigger_ticks
    query = select(ticks).order_by(desc(ticks.c.tick_id)).limit(limit)
    if trigger_key is not None:
        query = query.where(ticks.c.trigger_key == trigger_key)
    return [TickRecord(**row._mapping) for row in store.read(query)]


def last_ticks(store: SqlStore) -> dict[str, TickRecord]:
    """The newest tick of every trigger that has one, by trigger key."""
    ticks = schema.trigger_ticks
    newest = select(func.max(ticks.c.tick_id)).group_by(ticks.c.trigger_key)
    rows = store.read(select(ticks).where(ticks.c.tick_id.in_(newest.scalar_subquery())))
    return {row.trigger_key: TickRecord(**row._mapping) for row in rows}


def daemon_holder(store: SqlStore, role: str) -> tuple[str, float] | None:
    """(owner, expires_at) of whoever holds ``role``, if anyone does."""
    daemons = schema.daemons
    rows = store.read(select(daemons.c.owner, daemons.c.expires_at)
                      .where(daemons.c.role == role))
    return (rows[0].owner, rows[0].expires_at) if rows else None


# -- writes -------------------------------------------------------------------------------


def save_evaluation(store: SqlStore, trigger_key: str, seen: TriggerState | None, *,
                    cursor: str | None, requests: Sequence[Event] = (),
                    ticks: Sequence[TickRecord] = (), error: str | None = None
                    ) -> list[bool] | None:
    """Save an evaluation of ``trigger_key`` made from the state ``seen`` (None: it had
    none): its cursor, the runs it requests (``run_queued`` events, one per tick, in the
    order of ``ticks`` with status ``requested``) and its ticks. None when another
    scheduler saved an evaluation first (nothing is written); else, per request, whether
    it was enqueued (False: its tick had its run already)."""
    return save_evaluations(store, [EvaluationSave(
        trigger_key=trigger_key, seen=seen, cursor=cursor, requests=requests, ticks=ticks,
        error=error)])[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationSave:
    """One evaluation to save: the arguments of ``save_evaluation``."""

    trigger_key: str
    seen: TriggerState | None
    cursor: str | None
    requests: Sequence[Event] = ()
    ticks: Sequence[TickRecord] = ()
    error: str | None = None


def save_evaluations(store: SqlStore, saves: Sequence[EvaluationSave]
                     ) -> list[list[bool] | None]:
    """Save several evaluations in one transaction (one commit for many triggers), each
    as ``save_evaluation`` would, in the order of their trigger keys (so that two
    schedulers saving overlapping sets lock the rows in the same order): per evaluation,
    None or whether each request was enqueued."""
    q = _sql(store)
    now = time.time()

    def work(cursor_: Any, sql: Statements) -> list[list[bool] | None]:
        done: dict[int, list[bool] | None] = {}
        for i in sorted(range(len(saves)), key=lambda i: saves[i].trigger_key):
            done[i] = _save_in(cursor_, sql, q, now, saves[i])
        return [done[i] for i in range(len(saves))]

    if not saves:
        return []
    return store.writer.transact(work)


def _save_in(cursor_: Any, sql: Statements, q: _TriggerSql, now: float,
             save: EvaluationSave) -> list[bool] | None:
    params = {"key": save.trigger_key, "cursor": save.cursor, "now": now,
              "evaluated_at": now, "error": save.error}
    if save.seen is None:
        cursor_.execute(q.create, {**params, "paused": 0})
    else:
        cursor_.execute(q.save, {**params, "seen": save.seen.version})
    if cursor_.rowcount != 1:
        return None
    enqueued = enqueue_in(cursor_, sql, save.requests)
    by_tick = iter(zip(save.requests, enqueued, strict=True))
    rows = []
    for tick in save.ticks:
        status, run_id, detail = tick.status, tick.run_id, tick.detail
        if status == "requested":
            request, done = next(by_tick)
            run_id = request.run_id if done else None
            if not done:
                status, detail = "skipped", "its run was requested before"
        rows.append({"trigger_key": tick.trigger_key, "tick_key": tick.tick_key,
                     "at": tick.at, "status": status, "run_id": run_id, "detail": detail})
    if rows:
        cursor_.executemany(q.tick, rows)
    return enqueued


def set_paused(store: SqlStore, trigger_key: str, paused: bool) -> None:
    """Pause (or resume) a trigger: a paused trigger requests no runs; its ticks in between
    are skipped when it resumes (its cursor moves on)."""
    q = _sql(store)
    now = time.time()
    change = TriggerPaused(trigger_key=trigger_key) if paused else TriggerResumed(
        trigger_key=trigger_key)

    def work(cursor: Any, sql: Statements) -> None:
        cursor.execute(q.create, {"key": trigger_key, "cursor": None, "now": now,
                                  "evaluated_at": None, "error": None, "paused": int(paused)})
        if cursor.rowcount != 1:
            cursor.execute(q.pause, {"key": trigger_key, "paused": int(paused), "now": now})
        apply(sql, cursor, [event(change, NO_RUN, trigger_key, at=now)], (), ())

    store.writer.transact(work)


def hold_daemon(store: SqlStore, role: str, owner: str, ttl: float) -> bool:
    """Take or renew the lease of the singleton daemon ``role`` for ``owner``: True when it
    holds it now, False when another live process does. Taking it is an event
    (``daemon_acquired``; after an expired holder, also its ``daemon_lost``); renewing it
    is not."""
    q = _sql(store)
    now = time.time()

    def work(cursor: Any, sql: Statements) -> bool:
        params = {"role": role, "owner": owner, "now": now, "expires_at": now + ttl}
        cursor.execute(q.claim_role, params)
        if cursor.rowcount == 1:
            apply(sql, cursor, [event(DaemonAcquired(role=role, owner=owner, ttl=ttl),
                                      NO_RUN, role, at=now)], (), ())
            return True
        cursor.execute(q.holder, {"role": role})
        found = cursor.fetchone()
        previous = None if found is None else found[0]
        cursor.execute(q.hold, params)
        if cursor.rowcount != 1:
            return False
        if previous != owner:
            changes: list[Event] = [event(DaemonAcquired(
                role=role, owner=owner, previous_owner=previous, ttl=ttl), NO_RUN, role,
                at=now)]
            if previous is not None:
                changes.insert(0, event(DaemonLost(role=role, owner=previous,
                                                   reason="expired", successor=owner),
                                        NO_RUN, role, at=now))
            apply(sql, cursor, changes, (), ())
        return True

    return store.writer.transact(work)


def release_daemon(store: SqlStore, role: str, owner: str, *, reason: str = "released"
                   ) -> None:
    """``owner`` lets go of the daemon ``role`` (it stops, or it ``died``: another process
    of its host found it dead): a ``daemon_lost`` event, when it held it."""
    q = _sql(store)
    now = time.time()

    def work(cursor: Any, sql: Statements) -> None:
        cursor.execute(q.release, {"role": role, "owner": owner})
        if cursor.rowcount == 1:
            apply(sql, cursor, [event(DaemonLost(role=role, owner=owner, reason=reason),
                                      NO_RUN, role, at=now)], (), ())

    store.writer.transact(work)
