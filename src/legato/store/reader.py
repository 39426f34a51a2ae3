"""The light read path: what the listing commands read, on SQLite without SQLAlchemy.

``open_reader(url)`` gives a ``StoreReads``. For a SQLite store that exists and whose
schema revision is the code's (``migrations.HEAD``), it is a ``SqliteReader``: the plain
``sqlite3`` driver and the same queries as ``SqlStore``, which is what makes ``legato
runs`` answer at once. Any other store (PostgreSQL, a URL with options, a store to
create or migrate, an empty file, a damaged one) is opened as a ``SqlStore``, which
creates, migrates or refuses it, and words the errors, exactly as before.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from legato.errors import RunNotFoundError
from legato.store.catalog import CURRENT_SQL, CatalogRow, catalog_row
from legato.store.migrations import HEAD
from legato.store.records import (
    Event,
    LogLine,
    MaterializationRecord,
    RunRecord,
    StepRecord,
    materialization_record,
    run_record,
    step_record,
)
from legato.store.sqlite_files import (
    connect_sqlite_read_only,
    describe_store_error,
    is_read_only_file,
    plain_sqlite_file,
)


class StoreReads(Protocol):
    """The reads of the listing commands; ``SqlStore`` and ``SqliteReader`` have them."""

    def get_run(self, run_id: str) -> RunRecord: ...

    def list_runs(self, *, status: str | None = None, target: str | None = None,
                  since: float | None = None, limit: int = 50) -> list[RunRecord]: ...

    def get_steps(self, run_id: str) -> list[StepRecord]: ...

    def get_logs(self, run_id: str, step_key: str | None = None) -> list[LogLine]: ...

    def get_events(self, run_id: str, step_key: str | None = None) -> list[Event]: ...

    def latest_asset_steps(self) -> dict[str, StepRecord]: ...

    def find_run_by_idempotency_key(self, key: str) -> RunRecord | None: ...

    def latest_materializations(self) -> dict[str, MaterializationRecord]: ...

    def partition_counts(self) -> dict[str, int]: ...

    def current_catalogs(self) -> list[CatalogRow]: ...


@contextlib.contextmanager
def open_reader(url: str, *, durability: str = "normal") -> Iterator[StoreReads]:
    """The store at ``url`` for reading, closed on exit (see the module's docstring)."""
    light = SqliteReader.open(url)
    if light is not None:
        with contextlib.closing(light):
            yield light
        return
    from legato.store.sql_store import SqlStore

    with SqlStore(url, durability=durability) as store:
        yield store


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class SqliteReader:
    """An up-to-date SQLite store, read with the ``sqlite3`` driver alone."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._connection = connection

    @classmethod
    def open(cls, url: str) -> SqliteReader | None:
        """The reader of the store at ``url``; None unless it is a plain SQLite URL of a
        store file at the code's schema revision (then ``SqlStore`` opens it)."""
        path = plain_sqlite_file(url)
        if path is None or not path.is_file() or path.stat().st_size == 0:
            return None
        try:
            connection = (connect_sqlite_read_only(path) if is_read_only_file(path)
                          else sqlite3.connect(path, timeout=60.0, isolation_level=None,
                                               check_same_thread=False))
        except sqlite3.Error:
            return None
        try:
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            found = None
        if found is None or found[0] != HEAD:
            connection.close()
            return None
        connection.row_factory = _dict_row
        return cls(path, connection)

    def close(self) -> None:
        self._connection.close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            return list(self._connection.execute(sql, tuple(params)))
        except sqlite3.Error as error:
            raise describe_store_error(str(error), self.path) from error

    def get_run(self, run_id: str) -> RunRecord:
        """A run by its id, a unique prefix of it, or ``last`` for the newest run."""
        if run_id in ("last", "latest"):
            rows = self._rows("SELECT * FROM runs ORDER BY created_at DESC LIMIT 1")
        elif not run_id:
            rows = []  # an empty prefix is not a choice of run
        else:
            rows = self._rows("SELECT * FROM runs WHERE run_id = ?", [run_id])
            if not rows:
                escaped = (run_id.replace("/", "//").replace("%", "/%").replace("_", "/_"))
                rows = self._rows("SELECT * FROM runs WHERE run_id LIKE ? || '%' ESCAPE '/' "
                                  "LIMIT 2", [escaped])
        if len(rows) != 1:
            problem = "no run" if not rows else "more than one run"
            raise RunNotFoundError(
                f"{problem} matches '{run_id}'", hint="list runs with: legato runs"
            )
        return run_record(rows[0])

    def list_runs(self, *, status: str | None = None, target: str | None = None,
                  since: float | None = None, limit: int = 50) -> list[RunRecord]:
        where: list[str] = []
        params: list[Any] = []
        for clause, values in (("status = ?", [status] if status else None),
                               # a flow's name, or any asset of the run's selection
                               ("(target = ? OR instr(assets, ?) > 0)",
                                [target, f",{target},"] if target else None),
                               ("created_at >= ?", [since] if since is not None else None)):
            if values is not None:
                where.append(clause)
                params.extend(values)
        sql = ("SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY created_at DESC LIMIT ?")
        return [run_record(row) for row in self._rows(sql, [*params, limit])]

    def get_steps(self, run_id: str) -> list[StepRecord]:
        rows = self._rows("SELECT * FROM steps WHERE run_id = ? ORDER BY seq", [run_id])
        return [step_record(row) for row in rows]

    def get_logs(self, run_id: str, step_key: str | None = None) -> list[LogLine]:
        sql, params = "SELECT * FROM logs WHERE run_id = ?", [run_id]
        if step_key is not None:
            sql, params = sql + " AND step_key = ?", [run_id, step_key]
        return [LogLine(r["run_id"], r["step_key"], r["attempt"], r["at"], r["stream"],
                        r["level"], r["message"])
                for r in self._rows(sql + " ORDER BY log_id", params)]

    def get_events(self, run_id: str, step_key: str | None = None) -> list[Event]:
        sql, params = "SELECT * FROM events WHERE run_id = ?", [run_id]
        if step_key is not None:
            sql, params = sql + " AND step_key = ?", [run_id, step_key]
        return [Event(r["run_id"], r["step_key"], r["attempt"], r["kind"], r["at"],
                      json.loads(r["data"]), r["event_id"])
                for r in self._rows(sql + " ORDER BY event_id", params)]

    def latest_asset_steps(self) -> dict[str, StepRecord]:
        """The step that last ended of every asset (its latest outcome: succeeded, cached,
        failed, fallback, skipped or canceled), by asset key."""
        rows = self._rows(
            "SELECT steps.* FROM steps JOIN (SELECT name, max(ended_at) AS at FROM steps "
            "WHERE kind = 'asset' AND ended_at IS NOT NULL GROUP BY name) AS newest "
            "ON steps.name = newest.name AND steps.ended_at = newest.at "
            "WHERE steps.kind = 'asset'")
        return {row["name"]: step_record(row) for row in rows}

    def find_run_by_idempotency_key(self, key: str) -> RunRecord | None:
        rows = self._rows("SELECT * FROM runs WHERE idempotency_key = ?", [key])
        return run_record(rows[0]) if rows else None

    def latest_materializations(self) -> dict[str, MaterializationRecord]:
        """The newest materialization of every asset ever materialized."""
        rows = self._rows(
            "SELECT materializations.* FROM materializations JOIN "
            "(SELECT asset_key, max(created_at) AS at FROM materializations "
            "GROUP BY asset_key) AS newest ON materializations.asset_key = newest.asset_key "
            "AND materializations.created_at = newest.at")
        return {row["asset_key"]: materialization_record(row) for row in rows}

    def partition_counts(self) -> dict[str, int]:
        """How many distinct partitions of each partitioned asset were materialized."""
        rows = self._rows("SELECT asset_key, count(DISTINCT partition_key) AS n "
                          "FROM materializations WHERE partition_key IS NOT NULL "
                          "GROUP BY asset_key")
        return {row["asset_key"]: int(row["n"]) for row in rows}

    def current_catalogs(self) -> list[CatalogRow]:
        """Every code location's current definitions snapshot (``store/catalog.py``)."""
        return [catalog_row(row) for row in self._rows(CURRENT_SQL)]
