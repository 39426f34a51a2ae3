"""Helpers for the scheduler tests: a clock the test moves, schedulers on a store, and what
the store holds (queued runs, ticks) read back plainly."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from legato.daemon.scheduler import Scheduler
from legato.definitions.definitions import Definitions
from legato.scheduler.timezones import UTC
from legato.settings import Settings
from legato.store import schema
from legato.store.sql_store import SqlStore
from legato.store.triggers import TickRecord, list_ticks, read_triggers

T0 = dt.datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


class Clock:
    """The instant the scheduler sees; the test moves it."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def scheduler(settings: Settings, defs: Definitions, clock: Clock, **kwargs: Any) -> Scheduler:
    return Scheduler(settings, defs, clock=clock, **kwargs)


@dataclass(frozen=True)
class QueuedRun:
    run_id: str
    trigger_key: str | None
    idempotency_key: str | None
    kind: str
    target: str
    params: dict[str, Any]
    status: str

    @property
    def tick_key(self) -> str:
        assert self.idempotency_key is not None
        return self.idempotency_key.partition("@")[2]


def queued_runs(store: SqlStore, trigger_key: str | None = None) -> list[QueuedRun]:
    """The runs triggers requested, oldest first."""
    runs = schema.runs
    query = select(runs).order_by(runs.c.created_at, runs.c.run_id)
    if trigger_key is not None:
        query = query.where(runs.c.trigger_key == trigger_key)
    return [QueuedRun(row.run_id, row.trigger_key, row.idempotency_key, row.kind, row.target,
                      json.loads(row.params), row.status) for row in store.read(query)]


def tick_keys(store: SqlStore, trigger_key: str) -> list[str]:
    """The tick keys of a trigger's runs, in order."""
    return [run.tick_key for run in queued_runs(store, trigger_key)]


def ticks(store: SqlStore, trigger_key: str, status: str | None = None) -> list[TickRecord]:
    """A trigger's tick history, oldest first."""
    found = list(reversed(list_ticks(store, trigger_key, limit=10_000)))
    return [t for t in found if status is None or t.status == status]


def cursor(store: SqlStore, trigger_key: str) -> str | None:
    state = read_triggers(store).get(trigger_key)
    return state.cursor if state else None


def materialized(store: SqlStore, asset_key: str, materialization_id: str, at: float) -> None:
    """A materialization row, as the engine would have committed it."""
    with store.engine.begin() as connection:
        connection.execute(insert(schema.materializations).values(
            materialization_id=materialization_id, asset_key=asset_key, run_id="r" * 16,
            step_key=asset_key, created_at=at, code_version="c", data_version="d",
            value_id="v", upstream="{}"))


def minutes(start: dt.datetime, *offsets: int) -> list[str]:
    """Tick keys ``start + n minutes``."""
    return [(start + dt.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ") for n in offsets]
