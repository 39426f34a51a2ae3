"""The definitions catalog in the store, on SQLite and PostgreSQL: a snapshot that is current
already costs one lookup and writes nothing; a changed one becomes current and the old one
is kept; each code location has its own; the light reader reads what ``SqlStore`` reads;
and a store of the previous schema (0003) migrates with all its data."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from sqlalchemy import create_engine, text
from store_kit import BackendSuite, OnPostgres, OnSqlite, at_revision

import legato as lg
from legato.definitions.catalog import current_catalog
from legato.definitions.recording import record_definitions, snapshot_of
from legato.store.catalog import current_hash, read_snapshot, record_snapshot
from legato.store.migrations import HEAD
from legato.store.reader import SqliteReader
from legato.store.sql_store import MIGRATIONS, SqlStore


@lg.asset(owner="ana")
def raw() -> int:
    return 1


@lg.asset
def total(raw: int) -> int:
    return raw


@lg.flow
def nightly(day: str = "2026-01-01") -> None:
    return None


class CatalogSuite(BackendSuite):
    def test_a_current_snapshot_is_not_written_again(self, store: SqlStore,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        assert record_snapshot(store, "module:p", "h1", '{"assets":[]}') is True
        first = store.current_catalogs()
        writes: list[Any] = []
        real = store.writer.transact
        monkeypatch.setattr(store.writer, "transact",
                            lambda *a, **k: writes.append(a) or real(*a, **k))
        assert record_snapshot(store, "module:p", "h1", '{"assets":[]}') is False
        assert writes == [] and store.current_catalogs() == first

    def test_a_changed_snapshot_becomes_current_and_the_old_one_is_kept(
            self, store: SqlStore) -> None:
        assert record_snapshot(store, "module:p", "h1", '{"assets":[{"key":"a"}]}')
        assert record_snapshot(store, "module:p", "h2", '{"assets":[{"key":"b"}]}')
        assert current_hash(store, "module:p") == "h2"
        [row] = store.current_catalogs()
        assert (row.location, row.snapshot_hash, row.body) == ("module:p", "h2",
                                                               '{"assets":[{"key":"b"}]}')
        assert read_snapshot(store, "h1") == '{"assets":[{"key":"a"}]}'
        assert record_snapshot(store, "module:p", "h1", '{"assets":[{"key":"a"}]}')
        assert current_hash(store, "module:p") == "h1"  # back to a kept one: no second copy
        assert read_snapshot(store, "nope") is None

    def test_each_location_has_its_current_snapshot(self, store: SqlStore) -> None:
        record_snapshot(store, "module:a", "ha", '{"assets":[{"key":"x","owner":"a"}]}')
        record_snapshot(store, "module:b", "hb", '{"assets":[{"key":"x","owner":"b"},'
                                                 '{"key":"y"}]}')
        record_snapshot(store, "module:c", "ha", '{"assets":[{"key":"x","owner":"a"}]}')
        assert [r.location for r in store.current_catalogs()] == ["module:a", "module:b",
                                                                  "module:c"]
        one = current_catalog(store, "module:b")
        assert one is not None and one.digest == "hb" and one.locations == ("module:b",)
        merged = current_catalog(store)
        assert merged is not None and sorted(merged.assets) == ["x", "y"]
        assert merged.locations == ("module:a", "module:b", "module:c")
        assert current_catalog(store, "module:nope") is None

    def test_definitions_are_recorded_once_per_store(self, store: SqlStore,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        defs = lg.Definitions(assets=[raw, total], flows=[nightly], source="module:p")
        assert record_definitions(store, defs) is True
        assert record_definitions(store, defs) is False
        reads: list[Any] = []
        monkeypatch.setattr(store, "read", lambda *a: reads.append(a))
        assert record_definitions(store, defs) is False and reads == []  # known: no lookup
        monkeypatch.undo()
        with SqlStore(store.url) as other:  # another process, say: one lookup, no write
            assert record_definitions(other, defs) is False
        catalog = current_catalog(store, "module:p")
        assert catalog is not None and catalog.digest == snapshot_of(defs)[0]
        assert catalog.assets["raw"].owner == "ana" and catalog.downstream("raw") == ("total",)
        assert catalog.flows["nightly"].params[0].default == "2026-01-01"
        changed = lg.Definitions(assets=[raw], source="module:p")
        assert record_definitions(store, changed) is True
        now = current_catalog(store, "module:p")
        assert now is not None and list(now.assets) == ["raw"] and now.flows == {}

    def test_definitions_built_in_code_are_the_location_code(self, store: SqlStore) -> None:
        record_definitions(store, lg.Definitions(assets=[raw]))
        assert [r.location for r in store.current_catalogs()] == ["code"]

    def test_a_store_that_cannot_record_does_not_raise(self, store: SqlStore,
                                                       caplog: pytest.LogCaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
        def refuse(*_: Any, **__: Any) -> None:
            raise lg.StoreError("the database is locked")

        monkeypatch.setattr(store.writer, "transact", refuse)
        assert record_definitions(store, lg.Definitions(assets=[raw])) is False
        assert "was not recorded: the database is locked" in caplog.text


class TestSqliteCatalog(OnSqlite, CatalogSuite):
    def test_the_light_reader_reads_what_the_store_reads(self, store: SqlStore) -> None:
        record_definitions(store, lg.Definitions(assets=[raw, total], source="module:p"))
        record_snapshot(store, "file:/x.py", "hx", '{"flows":[{"name":"f"}]}')
        reader = SqliteReader.open(store.url)
        assert reader is not None
        try:
            assert reader.current_catalogs() == store.current_catalogs()
            assert len(reader.current_catalogs()) == 2
            assert current_catalog(reader) == current_catalog(store)
        finally:
            reader.close()

    def test_a_store_with_no_catalog_reads_as_none(self, store: SqlStore) -> None:
        reader = SqliteReader.open(store.url)
        assert reader is not None
        with contextlib.closing(reader):
            assert reader.current_catalogs() == [] and current_catalog(reader) is None


class TestPostgresCatalog(OnPostgres, CatalogSuite):
    pass


# -- migration 0003 -> 0004 -------------------------------------------------------------

ROWS_0003 = {
    "runs": "INSERT INTO runs (run_id, kind, target, status, params, tags, source, created_at, "
            "priority, partition_key, trigger_key, backfill_id, started_at, lease_owner, "
            "lease_token, lease_expires_at) VALUES ('r1', 'assets', 'raw', 'running', "
            "'{\"n\": 1}', '[\"t\"]', 'module:p', 5.0, 3, '2026-01-01', 'schedule:s@x', 'b1', "
            "6.0, 'host:1:abc', 2, 99.0)",
    "steps": "INSERT INTO steps (run_id, step_key, name, kind, seq, status, attempts, "
             "upstream, tags) VALUES ('r1', 'raw', 'raw', 'asset', 0, 'running', 1, '[]', "
             "'[]')",
    "events": "INSERT INTO events (run_id, step_key, attempt, kind, at, data) VALUES "
              "('r1', NULL, NULL, 'run_started', 5.0, '{\"target\": \"raw\"}')",
    "logs": "INSERT INTO logs (run_id, step_key, attempt, at, stream, level, message) VALUES "
            "('r1', 'raw', 1, 5.5, 'stdout', 20, 'hello')",
    "stored_values": "INSERT INTO stored_values (value_id, format, type, inline, size, "
                     "digest, created_at) VALUES ('v1', 'json', 'int', '1', 1, 'd', 5.0)",
    "materializations": "INSERT INTO materializations (materialization_id, asset_key, run_id, "
                        "step_key, created_at, code_version, data_version, value_id, "
                        "upstream, partition_key) VALUES ('m1', 'raw', 'r1', 'raw', 5.0, 'c', "
                        "'d', 'v1', '{}', '2026-01-01')",
    "triggers": "INSERT INTO triggers (trigger_key, cursor, version, paused, updated_at) "
                "VALUES ('schedule:s', 'x', 4, 1, 5.0)",
    "trigger_ticks": "INSERT INTO trigger_ticks (trigger_key, tick_key, at, status, run_id) "
                     "VALUES ('schedule:s', 'x', 5.0, 'requested', 'r1')",
    "backfills": "INSERT INTO backfills (backfill_id, kind, target, spec, status, "
                 "max_concurrent, created_at) VALUES ('b1', 'assets', 'raw', '{}', 'running', "
                 "2, 5.0)",
    "daemons": "INSERT INTO daemons (role, owner, started_at, expires_at) VALUES "
               "('scheduler', 'host:1:abc', 5.0, 9.0)",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'legato.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {table: sorted(tuple(row) for row in connection.execute(
                        text(f"SELECT * FROM {table}")))
                    for table in ROWS_0003}
    finally:
        engine.dispose()


@pytest.fixture
def store_0003(url: str) -> Iterator[str]:
    """A store at revision 0003 holding a row in every table."""
    with at_revision(url, "0003") as connection:
        for insert in ROWS_0003.values():
            connection.execute(text(insert))
    yield url


def test_a_0003_store_migrates_to_the_catalog_with_all_its_data(store_0003: str) -> None:
    before = _dump(store_0003)
    assert all(len(rows) == 1 for rows in before.values()), before
    with SqlStore(store_0003) as store:
        assert store.current_catalogs() == []
        run = store.get_run("r1")
        assert (run.params, run.priority, run.lease_token, run.source) == ({"n": 1}, 3, 2,
                                                                          "module:p")
        record_definitions(store, lg.Definitions(assets=[raw], source="module:p"))
    after = _dump(store_0003)
    # 0005 adds runs.assets, filled from an asset run's target; nothing else changes
    assert after["runs"] == [(*before["runs"][0], ",raw,")]
    assert {k: v for k, v in after.items() if k != "runs"} == {
        k: v for k, v in before.items() if k != "runs"}
    engine = create_engine(store_0003)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")
                                      ).scalar_one() == HEAD == "0005"
    finally:
        engine.dispose()
    with SqlStore(store_0003) as store:
        catalog = current_catalog(store)
        assert catalog is not None and list(catalog.assets) == ["raw"]


def test_the_light_reader_leaves_a_0003_store_to_the_sql_store(tmp_path: Path) -> None:
    """A 0003 SQLite store is not read by the light reader (it has no catalog tables):
    ``open_reader`` opens it as a ``SqlStore``, which migrates it."""
    from alembic import command

    from legato.store.reader import open_reader

    url = f"sqlite:///{tmp_path / 'legato.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    engine.dispose()
    assert SqliteReader.open(url) is None
    with open_reader(url) as reader:
        assert reader.current_catalogs() == []
    with sqlite3.connect(tmp_path / "legato.db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (
            HEAD,)
