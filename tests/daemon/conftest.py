"""Fixtures of the daemon tests: each test that takes ``backend`` runs on SQLite and on the
real PostgreSQL (``postgres_url``; marked ``postgres``)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
