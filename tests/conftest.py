"""Shared fixtures: an isolated project folder per test, and a real PostgreSQL when asked.

PostgreSQL tests use ``LEGATO_TEST_POSTGRES_URL`` (default: the local server's ``test``
database) with a schema of their own. Without a server they skip locally and fail in CI
(``CI=true``), so a missing service can never pass silently.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

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

