"""Shared fixtures: an isolated project folder per test, settings per executor, the store
a run wrote, and a real PostgreSQL when asked.

PostgreSQL tests use ``LEGATO_TEST_POSTGRES_URL`` (default: the local server's ``test``
database) with a schema of their own. Without a server they skip locally and fail in CI
(``CI=true``), so a missing service can never pass silently.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

POSTGRES_URL = os.environ.get(
    "LEGATO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the current directory, with LEGATO_* variables cleared."""
    for name in list(os.environ):
        if name.startswith("LEGATO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(project: Path):  # type: ignore[no-untyped-def]
    from legato.settings import Settings

    return Settings(home=project / ".legato")


EXECUTORS = ("inline", "threads", "processes")


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_settings(project: Path) -> Callable[..., Any]:
    """``make_settings(executor="processes", max_parallel=2, ...)``: Settings in the project."""
    from legato.settings import Settings

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
    from legato.store.sql_store import SqlStore

    opened: list[SqlStore] = []

    def open_store(settings: Any) -> SqlStore:
        store = SqlStore(settings.store_url)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


def _postgres_or_skip() -> None:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        message = (
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({type(error).__name__}); "
            "install and start PostgreSQL 15+ or set LEGATO_TEST_POSTGRES_URL"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to the real PostgreSQL, confined to a fresh schema dropped afterwards."""
    _postgres_or_skip()
    import sqlalchemy

    schema = f"legato_test_{secrets.token_hex(4)}"
    admin = sqlalchemy.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--iterations", type=int, default=None,
        help="iterations of the random kill -9 test, per backend (default: "
        "LEGATO_KILL_ITERATIONS, else 30)",
    )
    parser.addoption(
        "--scheduler-seconds", type=float, default=None,
        help="how long the scheduler kill test kills and restarts its schedulers (default: "
        "LEGATO_SCHEDULER_SECONDS, else 60)",
    )
