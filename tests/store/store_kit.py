"""Helpers shared by the store tests: events built the way the engine builds them, a clock
that only moves forward, direct row counts, and a reference model of the transition rules
that computes what the projections must hold from the events alone."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, func, select

from legato.store import schema
from legato.store.records import Event, StoredValue
from legato.store.sql_store import MIGRATIONS, SqlStore, _step

T0 = 1_700_000_000.0


class BackendSuite:
    """The base of a suite run once per backend: a subclass mixes in ``OnSqlite`` or
    ``OnPostgres``, which provide ``url`` (Dagster's ``TestRunStorage`` pattern)."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def store(self, url: str) -> Iterator[SqlStore]:
        with SqlStore(url) as store:
            yield store


class OnSqlite:
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'legato.db'}"


@pytest.mark.postgres
class OnPostgres:
    @pytest.fixture
    def url(self, postgres_url: str) -> str:
        return postgres_url


class Clock:
    """Deterministic timestamps, one second apart."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def new_run_id() -> str:
    return uuid.uuid4().hex


def step_data(name: str, seq: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "task", "seq": seq, "upstream": [], "tags": ["t"], **extra}


def ev(run_id: str, kind: str, at: float, step: str | None = None, attempt: int | None = None,
       /, **data: Any) -> Event:
    """An event; keyword arguments are its data (positional-only, so ``kind=`` is data)."""
    return Event(run_id, step, attempt, kind, at, data)


def run_started(run_id: str, at: float, target: str = "nightly", **params: Any) -> Event:
    return ev(run_id, "run_started", at, kind="flow", target=target, params=params,
              tags=["x"], source="module:pipelines")


def stored_value(value_id: str, at: float, text: str = '{"n":1}') -> StoredValue:
    return StoredValue(value_id=value_id, format="json", type="builtins.dict", inline=text,
                       uri=None, size=len(text), digest="0" * 64, created_at=at)


def count(store: SqlStore, table: Any, **where: Any) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def all_events(store: SqlStore) -> list[Event]:
    """Every event in the log, in the order it was appended."""
    events = schema.events
    with store.engine.connect() as connection:
        rows = connection.execute(select(events).order_by(events.c.event_id)).all()
    return [Event(r.run_id, r.step_key, r.attempt, r.kind, r.at, json.loads(r.data), r.event_id)
            for r in rows]


_SETTLED = {"step_skipped", "step_canceled", "step_cached", "step_fallback"}
_AFTER_FAILURE = {"retry": "retrying", "fallback": "running", "fail": "failed"}


def expected_steps(events: Iterable[Event]) -> dict[tuple[str, str], dict[str, Any]]:
    """The steps projection, computed in plain Python from the event log: the transition rules
    written out a second time, independently of the SQL that applies them."""
    steps: dict[tuple[str, str], dict[str, Any]] = {}

    def new_row(e: Event, status: str, **values: Any) -> dict[str, Any]:
        d = e.data
        row = {"name": d.get("name", ""), "kind": d.get("kind", "task"), "seq": d.get("seq", 0),
               "status": status, "attempts": e.attempt or 0, "started_at": None,
               "ended_at": None, "error": None, "traceback": None, "reason": None,
               "value_id": None, "cache_key": None, "upstream": d.get("upstream", []),
               "tags": d.get("tags", [])}
        row.update(values)
        return row

    for e in events:
        assert e.step_key is not None or not e.kind.startswith("step_")
        key = (e.run_id, e.step_key or "")
        row = steps.get(key)
        d = e.data
        if e.kind == "step_started":
            if row is None:
                steps[key] = new_row(e, "running", started_at=e.at)
            else:
                # started_at stays: a step's time spans all its attempts
                row.update(status="running", attempts=e.attempt, ended_at=None)
        elif e.kind == "step_failed":
            assert row is not None
            nxt = d.get("next") or ("retry" if d.get("will_retry") else "fail")
            row.update(status=_AFTER_FAILURE[nxt], ended_at=e.at if nxt == "fail" else None,
                       error=d.get("error"), traceback=d.get("traceback"))
        elif e.kind == "step_succeeded":
            assert row is not None
            row.update(status="succeeded", ended_at=e.at, value_id=d.get("value_id"),
                       cache_key=d.get("cache_key"), error=None)
        elif e.kind == "step_reset":
            assert row is not None
            row.update(status="retrying", value_id=None, ended_at=None, reason=d.get("reason"))
        elif e.kind in _SETTLED:
            status = e.kind.removeprefix("step_")
            if row is None:
                steps[key] = new_row(e, status, ended_at=e.at,
                                     started_at=d.get("started_at", e.at),
                                     reason=d.get("reason"), value_id=d.get("value_id"),
                                     cache_key=d.get("cache_key"))
            else:
                row.update(status=status, reason=d.get("reason"), value_id=d.get("value_id"),
                           ended_at=e.at)
    return steps


def actual_steps(store: SqlStore, run_ids: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """The steps projection as the store holds it, in the shape of ``expected_steps``."""
    wanted = set(run_ids)
    steps = schema.steps
    with store.engine.connect() as connection:
        rows = connection.execute(select(steps)).all()
    found = {}
    for row in rows:
        if row.run_id in wanted:
            values = dataclasses.asdict(_step(row))
            values["status"] = str(values["status"])
            del values["run_id"], values["step_key"]
            found[(row.run_id, row.step_key)] = values
    return found


def per_run(store: SqlStore, table: Any, **where: Any) -> dict[str, int]:
    """Rows of a table per run id."""
    query = select(table.c.run_id, func.count()).group_by(table.c.run_id)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with store.engine.connect() as connection:
        return {run_id: int(n) for run_id, n in connection.execute(query)}


@contextlib.contextmanager
def at_revision(url: str, revision: str) -> Iterator[Connection]:
    """A store at ``url`` migrated only up to ``revision``: a connection to fill it as an
    older legato would have, committed on exit (then ``SqlStore(url)`` migrates it)."""
    from alembic import command
    from alembic.config import Config

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            yield connection
    finally:
        engine.dispose()
