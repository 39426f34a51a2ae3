"""Fixtures of the service tests: a small project, loaded, on SQLite and on the real
PostgreSQL (``backend``, shared with the daemon tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.daemon.conftest import backend
from tests.daemon.worker_kit import backend_settings

from legato.definitions.definitions import Definitions
from legato.definitions.loader import load_definitions
from legato.settings import Settings

__all__ = ["backend"]

PROJECT = '''
import legato as lg

DAILY = lg.DailyPartitions(start="2020-01-01")


@lg.asset
def raw():
    print("raw says hi")
    return [1, 2, 3]


@lg.asset
def doubled(raw):
    return [x * 2 for x in raw]


@lg.asset(partitions=DAILY)
def days(ctx):
    if ctx.partition_key == "2020-01-02":
        raise ValueError("bad day")
    return ctx.partition_key


@lg.task
def add(a: int, b: int) -> int:
    return a + b


@lg.flow(schedule=lg.cron("0 3 * * *", tz="Europe/Berlin"))
def adder(a: int = 1, b: int = 1) -> int:
    return add(a, b)


@lg.task
def explode() -> int:
    raise ValueError("boom")


@lg.flow
def failing():
    return explode()
'''


BREAKABLE = '''
import os

import legato as lg


@lg.asset
def source():
    if os.environ.get("BREAK_SOURCE"):
        raise RuntimeError("source is down")
    return 1


@lg.asset(fallback=lg.last_good)
def report(source):
    return source + 1
'''
"""Assets ``source`` (fails when BREAK_SOURCE is set) and ``report`` (falls back to its
last good value), to see a failure beside the last good materialization."""


@pytest.fixture
def defs(project: Path) -> Definitions:
    path = project / "svc_project.py"
    path.write_text(PROJECT)
    return load_definitions(str(path))


@pytest.fixture
def on_backend(project: Path, backend: str, request: Any) -> Settings:
    """The project's settings on the backend of this test's parameter."""
    return backend_settings(project, backend, request)
