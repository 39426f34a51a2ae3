"""Claims take the queue's head: the highest priority first, the oldest first within a
priority, across as many priority levels as the claim needs (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato.store.queue import claim, enqueue, queued_event
from legato.store.sql_store import SqlStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'legato.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_claims_follow_priority_then_age_across_levels(url: str) -> None:
    priorities = [0, 5, 1, 5, 0, 1, -2, 5]
    with SqlStore(url) as store:
        events = [queued_event(f"run-{i}", kind="flow", target="f", params={}, source=None,
                               priority=p, at=1000.0 + i) for i, p in enumerate(priorities)]
        assert enqueue(store, events) == [True] * len(events)
        first = claim(store, "w", 30, limit=4)
        rest = claim(store, "w", 30, limit=10)
        assert claim(store, "w", 30, limit=10) == []
    assert [r.run_id for r in first] == ["run-1", "run-3", "run-7", "run-2"]
    assert [r.run_id for r in rest] == ["run-5", "run-0", "run-4", "run-6"]
