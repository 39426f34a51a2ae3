"""The store on SQLAlchemy: SQLite (embedded default) or PostgreSQL, one schema.

Reads go through SQLAlchemy Core; every write goes through ``StoreWriter`` (the transition
gate). Opening a store creates it, migrates an older schema up, and refuses a newer one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Row, desc, func, inspect, or_, select, text
from sqlalchemy.exc import SQLAlchemyError

from legato.errors import RunNotFoundError, SchemaVersionError, StoreError
from legato.store import backfills, queue, schema, triggers
from legato.store.catalog import CatalogRow
from legato.store.dialects import (
    capabilities_for,
    compile_dialect,
    configure_sqlite,
    create_store_engine,
    describe_db_error,
    is_read_only_sqlite,
    is_sqlite,
    migration_lock,
    sqlite_path,
)
from legato.store.events import NO_RUN
from legato.store.gate import Statements
from legato.store.migrations import HEAD
from legato.store.ports import Capabilities
from legato.store.records import (
    Event,
    Lease,
    LogLine,
    MaterializationRecord,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    StoredValue,
    materialization_record,
    run_record,
    step_record,
)
from legato.store.sqlite_files import connect_sqlite_read_only
from legato.store.writer import StoreWriter

MIGRATIONS = Path(__file__).parent / "migrations"


def _driver_errors(url: str) -> tuple[type[BaseException], ...]:
    """The errors of the drivers a store at ``url`` uses: psycopg's only off SQLite (where
    importing it would cost a tenth of a second for nothing)."""
    errors: list[type[BaseException]] = [sqlite3.Error, SQLAlchemyError]
    if is_sqlite(url):
        return tuple(errors)
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ModuleNotFoundError:
        pass
    return tuple(errors)


class SqlStore:
    """Open with ``SqlStore(url)``; close with ``close()`` (or use it as a context manager)."""

    def __init__(self, url: str, *, durability: str = "normal") -> None:
        self.url = url
        self._pid = os.getpid()
        self.driver_errors = _driver_errors(url)
        path = sqlite_path(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"cannot create the store folder {path.parent}: {error.strerror}",
                    hint="make the folder writable, or set LEGATO_HOME elsewhere",
                ) from None
        self.read_only = is_read_only_sqlite(url)
        self.engine: Engine = create_store_engine(url, durability=durability,
                                                  read_only=self.read_only)
        self.dialect = self.engine.dialect.name
        self._capabilities = capabilities_for(self.dialect)
        try:
            self._migrate()
        except BaseException as error:
            self.engine.dispose()  # a refused store keeps no connection open
            if isinstance(error, self.driver_errors):
                raise describe_db_error(error, url) from error
            raise
        synchronous = "FULL" if durability == "full" else "NORMAL"

        def connect() -> Any:
            if path is not None:
                connection = sqlite3.connect(
                    path, timeout=60.0, isolation_level=None, check_same_thread=False
                )
                configure_sqlite(connection, synchronous)
                return connection
            return self.engine.raw_connection()

        self.writer = StoreWriter(
            connect,
            _statements_for(self.engine),
            self.dialect,
            lambda error: describe_db_error(error, url),
            self.driver_errors,
        )

    # -- lifecycle --------------------------------------------------------------------

    def _migrate(self) -> None:
        if self.read_only:  # reading needs no lock (nobody can write this folder)
            current = self._schema_revision()
            if current != HEAD:
                raise StoreError(
                    f"cannot write the legato store at {self._where()}: its folder is "
                    f"read-only, and the store needs "
                    + ("creating" if current is None else f"migrating from {current!r}"),
                    hint="make the folder writable once (or open it with the legato that "
                    "wrote it); afterwards it can be read from a read-only folder",
                )
            return
        if self.dialect == "sqlite":
            # The first connection to a new SQLite file switches it to WAL, which makes a
            # concurrent opener's migration fail with "database is locked": SQLite stores are
            # checked and migrated by one opener at a time, from the first connection on.
            with migration_lock(self.engine, self.url):
                self._refuse_empty_file()
                self._upgrade(self._schema_revision())
            return
        current = self._schema_revision()
        if current != HEAD:
            with migration_lock(self.engine, self.url):
                self._upgrade(current)

    def _refuse_empty_file(self) -> None:
        """A 0-byte file is not taken for a new store: it is what a truncated copy of a store
        leaves, and silently starting afresh there would hide every run it held. (legato
        never leaves one itself: a new store's first connection writes its header at once,
        under the migration lock.)"""
        path = sqlite_path(self.url)
        if path is not None and path.is_file() and path.stat().st_size == 0:
            raise StoreError(
                f"the store file {path} is empty (0 bytes): it holds no legato store, and "
                "legato does not start a new one over it in case it is a truncated copy of "
                "one",
                hint=f"if it should hold runs, copy the store again (with its -wal file); "
                f"otherwise delete {path.name} and legato creates a new store",
            )

    def _upgrade(self, current: str | None) -> None:
        if current == HEAD:
            return
        if current is not None and current not in _known_revisions():
            raise SchemaVersionError(
                f"the store at {self._where()} has schema revision {current!r}, written by a "
                f"newer legato (this one knows up to {HEAD!r}); it is never migrated down",
                hint="upgrade legato (pip install -U legato), or point LEGATO_DATABASE_URL at "
                "another store",
            )
        from alembic import command
        from alembic.config import Config

        with self.engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def _schema_revision(self) -> str | None:
        path = sqlite_path(self.url)
        if path is not None:  # the raw driver: a tenth of the cost of an inspector
            if not path.exists():  # a new store: not created here, but by its migration
                return None
            raw = (connect_sqlite_read_only(path) if self.read_only
                   else sqlite3.connect(path, timeout=60.0))
            try:
                found = raw.execute("SELECT version_num FROM alembic_version").fetchone()
                has_runs = found is None and raw.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'"
                ).fetchone() is not None
            except sqlite3.OperationalError as error:
                if "no such table" not in str(error):
                    raise
                return None
            finally:
                raw.close()
        else:
            with self.engine.connect() as connection:
                if not inspect(connection).has_table("alembic_version"):
                    return None
                row = connection.execute(text("SELECT version_num FROM alembic_version")
                                         ).first()
                found = None if row is None else tuple(row)
                has_runs = found is None and inspect(connection).has_table("runs")
        if found is None and has_runs:
            raise StoreError(
                f"the store at {self._where()} has tables but no schema revision (its "
                "alembic_version table is empty): legato cannot tell which migrations it "
                "has, so it neither migrates nor uses it",
                hint="the revision row was deleted or lost; if this store was last opened by "
                f"this version of legato, put it back: INSERT INTO alembic_version "
                f"VALUES ('{HEAD}'); else restore the store from a copy",
            )
        return None if found is None else str(found[0])

    def _where(self) -> str:
        return str(sqlite_path(self.url) or self.engine.url.render_as_string(hide_password=True))

    def close(self) -> None:
        try:
            self.writer.close()
        finally:
            # in a process forked from the one that opened them, the pooled connections are
            # the parent's: forgotten here, not closed under it
            self.engine.dispose(close=os.getpid() == self._pid)

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- writes: all through the gate ---------------------------------------------------

    def commit(
        self,
        batch: Sequence[Event],
        *,
        values: Sequence[StoredValue] = (),
        log_lines: Sequence[LogLine] = (),
        lease: Lease | None = None,
    ) -> None:
        """Write ``batch`` in one transaction; under ``lease``, only while it holds."""
        self.writer.commit(batch, values=values, log_lines=log_lines, lease=lease)

    def defer(self, event: Event, *, lease: Lease | None = None) -> None:
        self.writer.defer(event, lease=lease)

    def renew_lease(self, lease: Lease) -> None:
        """Push the run's lease expiry ``lease.ttl`` ahead; ``LeaseLost`` if it was taken
        over (or the run has ended)."""
        self.writer.renew(lease)

    # -- reads --------------------------------------------------------------------------

    def read(self, statement: Any) -> list[Row[Any]]:
        """The rows of a SQLAlchemy Core query (for the store's other modules)."""
        return self._rows(statement)

    def _rows(self, statement: Any) -> list[Row[Any]]:
        try:
            with self.engine.connect() as connection:
                return list(connection.execute(statement))
        except self.driver_errors as error:
            raise describe_db_error(error, self.url) from error

    def get_run(self, run_id: str) -> RunRecord:
        """A run by its id, a unique prefix of it, or ``last`` for the newest run."""
        runs = schema.runs
        if run_id in ("last", "latest"):
            rows = self._rows(select(runs).order_by(desc(runs.c.created_at)).limit(1))
        elif not run_id:
            rows = []  # an empty prefix is not a choice of run
        else:
            rows = self._rows(select(runs).where(runs.c.run_id == run_id))
            if not rows:
                rows = self._rows(
                    select(runs).where(runs.c.run_id.startswith(run_id, autoescape=True)).limit(2)
                )
        if len(rows) != 1:
            problem = "no run" if not rows else "more than one run"
            raise RunNotFoundError(
                f"{problem} matches '{run_id}'", hint="list runs with: legato runs"
            )
        return _run(rows[0])

    def list_runs(
        self,
        *,
        status: str | None = None,
        target: str | None = None,
        since: float | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        runs = schema.runs
        query = select(runs).order_by(desc(runs.c.created_at)).limit(limit)
        if status:
            query = query.where(runs.c.status == status)
        if target:
            query = query.where(schema.runs_of(target))
        if since is not None:
            query = query.where(runs.c.created_at >= since)
        return [_run(row) for row in self._rows(query)]

    def find_run_by_idempotency_key(self, key: str) -> RunRecord | None:
        runs = schema.runs
        rows = self._rows(select(runs).where(runs.c.idempotency_key == key))
        return _run(rows[0]) if rows else None

    def list_expired_runs(self, now: float, *, limit: int = 100) -> list[RunRecord]:
        """Runs still marked running whose lease expired before ``now`` (or that have none),
        oldest first: the runs a worker may take over."""
        runs = schema.runs
        query = (
            select(runs)
            .where(runs.c.status == RunStatus.RUNNING,
                   or_(runs.c.lease_expires_at.is_(None), runs.c.lease_expires_at <= now))
            .order_by(runs.c.created_at)
            .limit(limit)
        )
        return [_run(row) for row in self._rows(query)]

    def get_steps(self, run_id: str) -> list[StepRecord]:
        steps = schema.steps
        rows = self._rows(select(steps).where(steps.c.run_id == run_id).order_by(steps.c.seq))
        return [_step(row) for row in rows]

    def get_events(self, run_id: str, step_key: str | None = None) -> list[Event]:
        events = schema.events
        query = select(events).where(events.c.run_id == run_id).order_by(events.c.event_id)
        if step_key is not None:
            query = query.where(events.c.step_key == step_key)
        return [_event(row) for row in self._rows(query)]

    def events_outside_runs(self, *, subject: str | None = None, after: int = 0,
                            limit: int = 100) -> list[Event]:
        """The events of no run (a trigger paused, a backfill canceled, a daemon's lease
        taken or lost), oldest first: those after the event id ``after``, of ``subject``
        (their ``step_key``: the trigger key, backfill id or daemon role) when given."""
        events = schema.events
        query = (select(events).where(events.c.run_id == NO_RUN, events.c.event_id > after)
                 .order_by(events.c.event_id).limit(limit))
        if subject is not None:
            query = query.where(events.c.step_key == subject)
        return [_event(row) for row in self._rows(query)]

    def get_logs(self, run_id: str, step_key: str | None = None) -> list[LogLine]:
        logs = schema.logs
        query = select(logs).where(logs.c.run_id == run_id).order_by(logs.c.log_id)
        if step_key is not None:
            query = query.where(logs.c.step_key == step_key)
        return [
            LogLine(r.run_id, r.step_key, r.attempt, r.at, r.stream, r.level, r.message)
            for r in self._rows(query)
        ]

    def get_value(self, value_id: str) -> StoredValue | None:
        values = schema.stored_values
        rows = self._rows(select(values).where(values.c.value_id == value_id))
        return StoredValue(**rows[0]._mapping) if rows else None

    def get_values(self, value_ids: Sequence[str]) -> dict[str, StoredValue]:
        """The stored values among ``value_ids``, by id (read in chunks)."""
        values = schema.stored_values
        found: dict[str, StoredValue] = {}
        wanted = sorted(set(value_ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for row in self._rows(select(values).where(values.c.value_id.in_(chunk))):
                found[row.value_id] = StoredValue(**row._mapping)
        return found

    def get_materialization(self, materialization_id: str) -> MaterializationRecord | None:
        table = schema.materializations
        rows = self._rows(
            select(table).where(table.c.materialization_id == materialization_id))
        return _materialization(rows[0]) if rows else None

    def find_cached(self, cache_key: str, not_before: float | None) -> tuple[str, str] | None:
        """(run_id, value_id) of the newest successful step with this cache key."""
        steps = schema.steps
        query = (
            select(steps.c.run_id, steps.c.value_id)
            .where(steps.c.cache_key == cache_key, steps.c.status == StepStatus.SUCCEEDED)
            .order_by(desc(steps.c.ended_at))
            .limit(1)
        )
        if not_before is not None:
            query = query.where(steps.c.ended_at >= not_before)
        rows = self._rows(query)
        return (rows[0].run_id, rows[0].value_id) if rows else None

    def latest_materialization(self, asset_key: str, partition_key: str | None = None
                               ) -> MaterializationRecord | None:
        """The newest materialization of an asset; of one of its partitions, when given."""
        if partition_key is None:
            found = self.list_materializations(asset_key, limit=1)
            return found[0] if found else None
        table = schema.materializations
        rows = self._rows(select(table).where(table.c.asset_key == asset_key,
                                              table.c.partition_key == partition_key)
                          .order_by(desc(table.c.created_at)).limit(1))
        return _materialization(rows[0]) if rows else None

    def latest_partition_materializations(self, asset_key: str, partition_keys: Sequence[str]
                                          ) -> dict[str, MaterializationRecord]:
        """The newest materialization of each of these partitions of an asset that has one,
        by partition key (read in chunks)."""
        table = schema.materializations
        found: dict[str, MaterializationRecord] = {}
        wanted = sorted(set(partition_keys))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            query = (select(table).where(table.c.asset_key == asset_key,
                                         table.c.partition_key.in_(chunk))
                     .order_by(table.c.created_at))
            for row in self._rows(query):
                found[row.partition_key] = _materialization(row)  # the newest comes last
        return found

    def partition_counts(self) -> dict[str, int]:
        """How many distinct partitions of each partitioned asset were materialized."""
        table = schema.materializations
        count = func.count(func.distinct(table.c.partition_key)).label("n")
        query = (select(table.c.asset_key, count)
                 .where(table.c.partition_key.is_not(None)).group_by(table.c.asset_key))
        return {row.asset_key: int(row.n) for row in self._rows(query)}

    def list_materializations(self, asset_key: str, limit: int = 20) -> list[MaterializationRecord]:
        table = schema.materializations
        query = (
            select(table)
            .where(table.c.asset_key == asset_key)
            .order_by(desc(table.c.created_at))
            .limit(limit)
        )
        return [_materialization(row) for row in self._rows(query)]

    def latest_materializations(self) -> dict[str, MaterializationRecord]:
        """The newest materialization of every asset ever materialized."""
        table = schema.materializations
        newest = (
            select(table.c.asset_key, func.max(table.c.created_at).label("at"))
            .group_by(table.c.asset_key)
            .subquery()
        )
        query = select(table).join(
            newest,
            (table.c.asset_key == newest.c.asset_key) & (table.c.created_at == newest.c.at),
        )
        return {row.asset_key: _materialization(row) for row in self._rows(query)}

    def latest_asset_steps(self) -> dict[str, StepRecord]:
        """The step that last ended of every asset (its latest outcome), by asset key."""
        steps = schema.steps
        newest = (
            select(steps.c.name, func.max(steps.c.ended_at).label("at"))
            .where(steps.c.kind == "asset", steps.c.ended_at.is_not(None))
            .group_by(steps.c.name)
            .subquery()
        )
        query = select(steps).join(
            newest, (steps.c.name == newest.c.name) & (steps.c.ended_at == newest.c.at)
        ).where(steps.c.kind == "asset")
        return {row.name: _step(row) for row in self._rows(query)}

    def latest_materialization_ids(self, asset_keys: Sequence[str]) -> dict[str, str]:
        """The id of the newest materialization of each of ``asset_keys`` that has one (what
        an asset trigger compares with the last it saw)."""
        if not asset_keys:
            return {}
        table = schema.materializations
        newest = (select(table.c.asset_key, func.max(table.c.created_at).label("at"))
                  .where(table.c.asset_key.in_(sorted(set(asset_keys))))
                  .group_by(table.c.asset_key).subquery())
        rows = self._rows(
            select(table.c.asset_key, table.c.materialization_id)
            .join(newest, (table.c.asset_key == newest.c.asset_key)
                  & (table.c.created_at == newest.c.at))
            .order_by(table.c.materialization_id))
        return {row.asset_key: row.materialization_id for row in rows}

    # -- the queue (store/queue.py) -----------------------------------------------------

    def enqueue(self, events: Sequence[Event]) -> list[bool]:
        return queue.enqueue(self, events)

    def claim(self, owner: str, lease_s: float, *, limit: int = 1,
              limits: queue.RunLimits | None = None) -> list[RunRecord]:
        return queue.claim(self, owner, lease_s, limit=limit,
                           limits=queue.NO_LIMITS if limits is None else limits)

    def queued_runs(self, *, target: str | None = None, since: float | None = None,
                    limit: int = 50) -> list[RunRecord]:
        return queue.queued_runs(self, target=target, since=since, limit=limit)

    def listen_for_queued(self, wake: threading.Event) -> Callable[[], None] | None:
        """Set ``wake`` whenever a run is enqueued, until the returned function is called;
        None when this database cannot tell (``capabilities.listen_notify``)."""
        if not self._capabilities.listen_notify:
            return None
        from legato.store.wakeup import QueueWakeup

        return QueueWakeup(self, wake).start().stop

    # -- triggers and the daemon's lease (store/triggers.py) ----------------------------

    def read_triggers(self) -> dict[str, triggers.TriggerState]:
        return triggers.read_triggers(self)

    def list_ticks(self, trigger_key: str | None = None, *, limit: int = 20
                   ) -> list[triggers.TickRecord]:
        return triggers.list_ticks(self, trigger_key, limit=limit)

    def last_ticks(self) -> dict[str, triggers.TickRecord]:
        return triggers.last_ticks(self)

    def save_evaluations(self, saves: Sequence[triggers.EvaluationSave]
                         ) -> list[list[bool] | None]:
        return triggers.save_evaluations(self, saves)

    def set_paused(self, trigger_key: str, paused: bool) -> None:
        triggers.set_paused(self, trigger_key, paused)

    def hold_daemon(self, role: str, owner: str, ttl: float) -> bool:
        return triggers.hold_daemon(self, role, owner, ttl)

    def release_daemon(self, role: str, owner: str, *, reason: str = "released") -> None:
        triggers.release_daemon(self, role, owner, reason=reason)

    def daemon_holder(self, role: str) -> tuple[str, float] | None:
        return triggers.daemon_holder(self, role)

    # -- backfills (store/backfills.py) -------------------------------------------------

    def create_backfill(self, record: backfills.BackfillRecord) -> None:
        backfills.create_backfill(self, record)

    def get_backfill(self, backfill_id: str) -> backfills.BackfillRecord:
        return backfills.get_backfill(self, backfill_id)

    def list_backfills(self, *, status: str | None = None, limit: int = 20
                       ) -> list[backfills.BackfillRecord]:
        return backfills.list_backfills(self, status=status, limit=limit)

    def backfill_run_counts(self, backfill_id: str) -> Counter[str]:
        return backfills.run_counts(self, backfill_id)

    def partitions_with_status(self, backfill_id: str, statuses: Sequence[str]
                               ) -> Iterator[str]:
        return backfills.partitions_with_status(self, backfill_id, statuses)

    def enqueue_partitions(self, backfill_id: str, seen_cursor: str | None, cursor: str,
                           events: Sequence[Event]) -> bool:
        return backfills.enqueue_partitions(self, backfill_id, seen_cursor, cursor, events)

    def finish_backfill(self, backfill_id: str, status: backfills.BackfillStatus,
                        error: str | None = None) -> bool:
        return backfills.finish_backfill(self, backfill_id, status, error)

    def cancel_backfill(self, backfill_id: str, reason: str) -> int | None:
        return backfills.cancel_backfill(self, backfill_id, reason)

    def current_catalogs(self) -> list[CatalogRow]:
        """Every code location's current definitions snapshot (``store/catalog.py``)."""
        from legato.store.catalog import read_current

        return read_current(self)


_statements: dict[tuple[str, str], Statements] = {}


def _statements_for(engine: Engine) -> Statements:
    """The compiled statements of a dialect, compiled once per process (about 6 ms)."""
    key = (engine.dialect.name, engine.dialect.driver)
    found = _statements.get(key)
    if found is None:
        found = _statements[key] = Statements(compile_dialect(engine))
    return found


def _known_revisions() -> set[str]:
    return {p.stem.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*.py")}


def _event(r: Row[Any]) -> Event:
    return Event(r.run_id, r.step_key, r.attempt, r.kind, r.at, json.loads(r.data), r.event_id)


def _run(row: Row[Any]) -> RunRecord:
    return run_record(dict(row._mapping))


def _step(row: Row[Any]) -> StepRecord:
    return step_record(dict(row._mapping))


def _materialization(row: Row[Any]) -> MaterializationRecord:
    return materialization_record(dict(row._mapping))
