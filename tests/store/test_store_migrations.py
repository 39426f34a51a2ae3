"""The schema and its migrations: new stores are created at the Alembic head, the models
and the migrations agree, a newer schema is refused untouched, and two processes may create
the same store at once."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from store_kit import at_revision, run_started

from legato.errors import SchemaVersionError, StoreError
from legato.store import schema
from legato.store.migrations import HEAD
from legato.store.sql_store import MIGRATIONS, SqlStore, _known_revisions

CHILD = Path(__file__).with_name("store_child.py")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'legato.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version"))
                       .scalar_one())
    finally:
        engine.dispose()


def _shape(url: str) -> dict[str, Any]:
    """Tables, columns, indexes and row counts: what 'untouched' must keep."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            shape = {}
            for table in sorted(inspector.get_table_names()):
                columns = [(c["name"], str(c["type"]), c["nullable"])
                           for c in inspector.get_columns(table)]
                indexes = sorted((i["name"] or "", tuple(i["column_names"]))
                                 for i in inspector.get_indexes(table))
                rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                shape[table] = (columns, indexes, rows)
            return shape
    finally:
        engine.dispose()


def test_head_is_the_alembic_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [HEAD], "HEAD must name the one newest revision"
    assert _known_revisions() == {r.revision for r in scripts.walk_revisions()}


def test_a_fresh_store_is_created_at_head(url: str) -> None:
    with SqlStore(url):
        pass
    assert _version(url) == HEAD
    assert set(_shape(url)) == {*schema.metadata.tables, "alembic_version"}


def test_the_migrations_build_exactly_the_schema(url: str) -> None:
    """schema.py and the migrations must never drift apart."""
    with SqlStore(url):
        pass
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection),
                                           schema.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_reopening_migrates_nothing(url: str) -> None:
    with SqlStore(url):
        pass
    before = _shape(url)
    with SqlStore(url):
        pass
    assert _shape(url) == before


def test_a_newer_schema_is_refused_and_left_untouched(url: str) -> None:
    with SqlStore(url) as store:
        store.commit([run_started("r" * 32, 1.0)])
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        connection.execute(text("CREATE TABLE future_things (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    before = _shape(url)
    database = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite") else None
    digest = hashlib.sha256(database.read_bytes()).hexdigest() if database else None

    with pytest.raises(SchemaVersionError) as refused:
        SqlStore(url)
    message = str(refused.value)
    assert "'9999'" in message and "written by a newer legato" in message
    assert f"knows up to {HEAD!r}" in message and "never migrated down" in message
    assert refused.value.hint is not None and "upgrade legato" in refused.value.hint

    assert _version(url) == "9999"
    assert _shape(url) == before
    if database is not None:
        assert hashlib.sha256(database.read_bytes()).hexdigest() == digest


def test_two_threads_create_a_new_store_at_once(url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        try:
            barrier.wait()
            with SqlStore(url):
                pass
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _version(url) == HEAD


@pytest.fixture
def children(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for child in started:
        if child.poll() is None:
            child.kill()
        child.wait()
        if child.stdout:
            child.stdout.close()


@pytest.mark.parametrize("round_", range(3))
def test_two_processes_create_a_new_sqlite_store_at_once(
    tmp_path: Path, children: list[subprocess.Popen[str]], round_: int
) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'legato.db'}"
    go = tmp_path / "go"
    for _ in range(2):
        children.append(subprocess.Popen(
            [sys.executable, str(CHILD), "open", url, "--go", str(go)],
            stdout=subprocess.PIPE, text=True))
    for child in children:  # both are imported and waiting
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    go.touch()
    results = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["ok"] for r in results), results
    assert _version(url) == HEAD
    with SqlStore(url) as store:
        assert {r.run_id for r in store.list_runs()} == {r["run_id"] for r in results}


def test_a_store_of_the_previous_revision_is_migrated_with_its_runs(url: str) -> None:
    """A 0002 store (before the run queue) opens at HEAD; its runs read back unchanged,
    with the queue's columns at their defaults."""
    with at_revision(url, "0002") as connection:
        connection.execute(text(
            "INSERT INTO runs (run_id, kind, target, status, params, tags, created_at) "
            "VALUES ('r0002', 'flow', 'nightly', 'succeeded', '{\"n\": 1}', '[]', 5.0)"))
    assert _version(url) == "0002"
    with SqlStore(url) as store:
        run = store.get_run("r0002")
    assert _version(url) == HEAD
    assert (run.target, run.params, run.priority, run.partition_key, run.started_at) == (
        "nightly", {"n": 1}, 0, None, None)


def test_runs_of_a_0004_store_are_found_by_any_asset_they_built(url: str) -> None:
    """0005 fills ``runs.assets`` of existing runs: from the target, or, when the target
    only counts the assets, from the selection the run's first event recorded."""
    many = [f"a{i}" for i in range(12)]
    with at_revision(url, "0004") as connection:
        for run_id, kind, target, at in (("r-flow", "flow", "a1", 1.0),
                                         ("r-few", "assets", "a0,a1,a2", 2.0),
                                         ("r-many", "assets", "12 assets", 3.0),
                                         ("r-lost", "assets", "9 assets", 4.0)):
            connection.execute(text(
                "INSERT INTO runs (run_id, kind, target, status, params, tags, "
                "created_at) VALUES (:run_id, :kind, :target, 'succeeded', '{}', '[]', "
                ":at)"), {"run_id": run_id, "kind": kind, "target": target, "at": at})
        connection.execute(text(
            "INSERT INTO events (run_id, kind, at, data) VALUES "
            "('r-many', 'run_started', 3.0, :data)"),
            {"data": json.dumps({"kind": "assets", "target": "12 assets",
                                 "selection": many})})
    with SqlStore(url) as store:
        assert [r.run_id for r in store.list_runs(target="a1")] == ["r-many", "r-few",
                                                                    "r-flow"]
        assert [r.run_id for r in store.list_runs(target="a11")] == ["r-many"]
        assert [r.run_id for r in store.list_runs(target="9 assets")] == ["r-lost"]
    assert _version(url) == HEAD


def test_an_empty_revision_table_beside_the_tables_is_refused_clearly(url: str) -> None:
    with SqlStore(url) as store:
        store.commit([run_started("r" * 32, 1.0)])
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
    engine.dispose()
    before = _shape(url)
    with pytest.raises(StoreError) as refused:
        SqlStore(url)
    assert "alembic_version table is empty" in str(refused.value)
    assert "already exists" not in str(refused.value)
    assert f"VALUES ('{HEAD}')" in (refused.value.hint or "")
    assert _shape(url) == before  # nothing migrated, nothing dropped
    engine = create_engine(url)
    with engine.begin() as connection:  # the repair the hint gives
        connection.execute(text(f"INSERT INTO alembic_version VALUES ('{HEAD}')"))
    engine.dispose()
    with SqlStore(url) as store:
        assert store.get_run("r" * 32).run_id == "r" * 32


def test_an_empty_revision_table_alone_is_a_new_store(url: str) -> None:
    """What an interrupted creation could leave: nothing to lose, so the store is created."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version "
                                "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    engine.dispose()
    with SqlStore(url) as store:
        store.commit([run_started("r" * 32, 1.0)])
    assert _version(url) == HEAD


def test_an_empty_database_file_is_not_taken_for_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "legato.db"
    path.touch()
    with pytest.raises(StoreError) as refused:
        SqlStore(f"sqlite:///{path}")
    assert str(refused.value).startswith(f"the store file {path} is empty (0 bytes)")
    assert "delete legato.db" in (refused.value.hint or "")
    assert path.stat().st_size == 0  # left as it was
    path.unlink()
    with SqlStore(f"sqlite:///{path}"):  # the fix the hint gives
        pass
    assert path.stat().st_size > 0


def test_a_new_store_is_never_left_as_an_empty_file(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a new store writes the file's header on the first connection: a crash during
    the migration that follows leaves a store the next opener can migrate, not 0 bytes."""
    path = tmp_path / "legato.db"

    def crash(*_: object) -> None:
        assert path.stat().st_size > 0
        raise KeyboardInterrupt

    monkeypatch.setattr("alembic.command.upgrade", crash)
    with pytest.raises(KeyboardInterrupt):
        SqlStore(f"sqlite:///{path}")
    monkeypatch.undo()
    with SqlStore(f"sqlite:///{path}"):
        pass
    assert _version(f"sqlite:///{path}") == HEAD
