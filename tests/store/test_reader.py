"""The light read path: on an up-to-date SQLite store, ``SqliteReader`` reads what
``SqlStore`` reads; any other store is opened by ``SqlStore`` (created, migrated or refused
as before)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import legato as lg
from legato.errors import RunNotFoundError, StoreError
from legato.store.dialects import sqlite_path
from legato.store.reader import SqliteReader, open_reader
from legato.store.sql_store import SqlStore
from legato.store.sqlite_files import plain_sqlite_file


@lg.asset
def raw() -> list[int]:
    print("raw")
    return [1, 2]


@lg.asset
def total(raw: list[int]) -> int:
    return sum(raw)


@lg.task
def boom() -> None:
    raise ValueError("boom")


@lg.flow
def failing() -> None:
    boom()


@pytest.fixture
def filled(settings: Any) -> str:
    """A store with two materializations of each asset and a failed run."""
    for _ in range(2):
        lg.materialize([raw, total], settings=settings)
    lg.run(failing, settings=settings)
    return str(settings.store_url)


def test_the_reader_reads_what_the_store_reads(filled: str) -> None:
    reader = SqliteReader.open(filled)
    assert reader is not None
    with SqlStore(filled) as store:
        runs = store.list_runs()
        assert reader.list_runs() == runs and len(runs) == 3
        assert reader.list_runs(status="failed", limit=5) == store.list_runs(status="failed",
                                                                             limit=5)
        assert reader.list_runs(target="failing") == store.list_runs(target="failing")
        since = runs[1].created_at
        assert reader.list_runs(since=since, limit=1) == store.list_runs(since=since, limit=1)
        # a prefix past the milliseconds: runs 16 ms apart share 10 digits
        for run_id in ("last", "latest", runs[2].run_id, runs[2].run_id[:13]):
            assert reader.get_run(run_id) == store.get_run(run_id)
        for run in runs:
            assert reader.get_steps(run.run_id) == store.get_steps(run.run_id)
            assert reader.get_logs(run.run_id) == store.get_logs(run.run_id)
            assert reader.get_logs(run.run_id, "raw") == store.get_logs(run.run_id, "raw")
            assert reader.get_events(run.run_id) == store.get_events(run.run_id)
            assert reader.get_events(run.run_id, "boom") == store.get_events(run.run_id,
                                                                             "boom")
        assert reader.latest_materializations() == store.latest_materializations()
        latest = reader.latest_asset_steps()
        assert latest == store.latest_asset_steps() and set(latest) == {"raw", "total"}
        assert latest["raw"].run_id == runs[1].run_id  # the newer of the two
        assert reader.partition_counts() == store.partition_counts()
        assert reader.find_run_by_idempotency_key("nope") is None
    reader.close()


def _part(i: int) -> lg.AssetDefinition[[], int]:
    def part() -> int:
        return i

    return lg.asset(key=f"part_{i}")(part)


def test_runs_are_found_by_any_asset_of_their_target_before_the_limit(settings: Any
                                                                       ) -> None:
    """``list_runs(target=KEY)``: the runs of flow KEY and every run that built asset KEY,
    however many assets it built; the reader and the store agree (issue 11, item 10)."""
    many = [_part(i) for i in range(10)]
    lg.materialize([raw, total], settings=settings)
    lg.materialize(many, settings=settings)  # its target says "10 assets"
    for _ in range(3):
        lg.run(failing, settings=settings)
    url = str(settings.store_url)
    reader = SqliteReader.open(url)
    assert reader is not None
    with SqlStore(url) as store:
        for target, limit, expected in (("total", 1, ["raw,total"]),
                                        ("part_7", 1, ["10 assets"]),
                                        ("part_", 5, []),  # a LIKE wildcard is no wildcard
                                        ("raw,total", 5, ["raw,total"]),
                                        ("failing", 2, ["failing", "failing"])):
            found = store.list_runs(target=target, limit=limit)
            assert [r.target for r in found] == expected, target
            assert reader.list_runs(target=target, limit=limit) == found
    reader.close()


@pytest.mark.parametrize("run_id", ["", "nope", "%", "_"])
def test_an_unknown_run_is_refused_alike(filled: str, run_id: str) -> None:
    reader = SqliteReader.open(filled)
    assert reader is not None
    with SqlStore(filled) as store, pytest.raises(RunNotFoundError) as expected:
        store.get_run(run_id)
    with pytest.raises(RunNotFoundError) as got:
        reader.get_run(run_id)
    assert (str(got.value), got.value.hint) == (str(expected.value), expected.value.hint)
    reader.close()


def test_a_new_store_is_created_by_the_full_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'legato.db'}"
    assert SqliteReader.open(url) is None
    with open_reader(url) as store:
        assert isinstance(store, SqlStore) and store.list_runs() == []
    with open_reader(url) as store:  # now at the head revision: the light reader
        assert isinstance(store, SqliteReader) and store.list_runs() == []


def test_a_store_at_another_revision_goes_through_the_full_store(filled: str) -> None:
    path = plain_sqlite_file(filled)
    assert path is not None
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    assert SqliteReader.open(filled) is None
    with pytest.raises(StoreError, match="newer legato"), open_reader(filled):
        pass


def test_an_empty_file_and_an_empty_revision_are_refused_as_before(tmp_path: Path,
                                                                  filled: str) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(StoreError, match="empty \\(0 bytes\\)"), \
            open_reader(f"sqlite:///{empty}"):
        pass
    path = plain_sqlite_file(filled)
    assert path is not None
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM alembic_version")
    with pytest.raises(StoreError, match="no schema revision"), open_reader(filled):
        pass


def test_a_file_that_is_not_a_store_is_refused_as_before(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, only some notes " * 100)
    with pytest.raises(StoreError, match="not a legato store"), \
            open_reader(f"sqlite:///{path}"):
        pass


@pytest.mark.parametrize("url", [
    "sqlite:////tmp/x/legato.db", "sqlite:///relative/legato.db",
    "sqlite+pysqlite:////tmp/a b/legato.db", "sqlite:////tmp/a@b:c#d.db",
])
def test_plain_urls_name_the_file_sqlalchemy_names(url: str) -> None:
    assert plain_sqlite_file(url) == sqlite_path(url)


@pytest.mark.parametrize("url", [
    "sqlite://", "sqlite:///:memory:", "sqlite:////tmp/a%20b.db", "sqlite:////tmp/x.db?mode=ro",
    "postgresql+psycopg://u@h/db", "sqlite+aiosqlite:////tmp/x.db",
])
def test_other_urls_are_left_to_sqlalchemy(url: str) -> None:
    assert plain_sqlite_file(url) is None
