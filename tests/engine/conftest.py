"""Fixtures for the execution-semantics suite: one run per executor, and the store to read
back what a run recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from legato.settings import Settings
from legato.store.sql_store import SqlStore

EXECUTORS = ("inline", "threads", "processes")


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_settings(project: Path) -> Callable[..., Any]:
    """``make_settings(executor="processes", max_parallel=2, ...)``: Settings in the project."""
    def make(**overrides: Any) -> Any:
        return Settings(home=project / ".legato", **overrides)

    return make


@pytest.fixture
def run_settings(make_settings: Callable[..., Any], executor: str) -> Any:
    """Settings for the executor under test (parametrized: inline, threads, processes).
    Two worker processes: each one starts (and imports the test module) for every run."""
    return make_settings(executor=executor, max_parallel=2 if executor == "processes" else 4)


@pytest.fixture
def read_store(project: Path) -> Iterator[Callable[[Any], Any]]:
    """``read_store(settings)`` opens the run's store (closed after the test)."""
    opened: list[SqlStore] = []

    def open_store(settings: Any) -> SqlStore:
        store = SqlStore(settings.store_url)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()
