"""Listing runs filters in the query, before the limit: matching runs behind a page of
non-matching ones are found, the newest (or, for the queue, the next to be claimed) first
(SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato.store.queue import enqueue, queued_event, queued_runs
from legato.store.sql_store import SqlStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'legato.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _queue(store: SqlStore, targets: list[str], *, start: float = 1000.0,
           priority: int = 0) -> None:
    events = [queued_event(f"run-{start + i:.0f}", kind="flow", target=target, params={},
                           source=None, priority=priority, at=start + i)
              for i, target in enumerate(targets)]
    assert enqueue(store, events) == [True] * len(events)


def test_the_queue_filters_by_target_before_the_limit(url: str) -> None:
    with SqlStore(url) as store:
        _queue(store, ["wanted"] * 3, start=1000.0)
        _queue(store, ["other"] * 5, start=2000.0, priority=1)  # claimed first
        _queue(store, ["other"] * 5, start=500.0)  # older
        found = queued_runs(store, target="wanted", limit=2)
        everything = queued_runs(store, target="wanted")
        recent = queued_runs(store, target="wanted", since=1001.0)
    assert [r.run_id for r in found] == ["run-1000", "run-1001"]
    assert [r.run_id for r in everything] == ["run-1000", "run-1001", "run-1002"]
    assert [r.run_id for r in recent] == ["run-1001", "run-1002"]


def test_runs_filter_by_target_and_status_before_the_limit(url: str) -> None:
    with SqlStore(url) as store:
        _queue(store, ["wanted"] * 4, start=1000.0)
        _queue(store, ["other"] * 10, start=2000.0)  # newer
        found = store.list_runs(target="wanted", status="queued", limit=3)
        none = store.list_runs(target="wanted", status="running", limit=3)
    assert [r.run_id for r in found] == ["run-1003", "run-1002", "run-1001"]
    assert none == []


def test_runs_filter_by_any_asset_of_their_selection_before_the_limit(url: str) -> None:
    """An asset run is found by any of its assets, named in its target or not (past eight,
    the target only counts them); a LIKE wildcard in the filter matches only itself."""
    keys = [f"part_{i}" for i in range(10)]
    with SqlStore(url) as store:
        events = [queued_event("run-many", kind="assets", target="10 assets", params={},
                               source=None, selection=keys, at=1000.0),
                  queued_event("run-few", kind="assets", target="raw,part_3", params={},
                               source=None, selection=["raw", "part_3"], at=1001.0)]
        assert enqueue(store, events) == [True, True]
        _queue(store, ["other"] * 5, start=2000.0)  # newer
        assert [r.run_id for r in store.list_runs(target="part_3", limit=2)] == [
            "run-few", "run-many"]
        assert [r.run_id for r in store.list_runs(target="part_9", limit=1)] == ["run-many"]
        assert store.list_runs(target="part_", limit=10) == []
        assert store.list_runs(target="part%", limit=10) == []
        assert [r.run_id for r in queued_runs(store, target="part_3")] == ["run-many",
                                                                           "run-few"]
