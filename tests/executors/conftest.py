"""Fixtures for the executor tests: settings per executor, the store to read back what a
run recorded, and a look at the processes a run leaves behind."""

from __future__ import annotations

import os
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


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _is_helper(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing.forkserver" in cmdline or b"resource_tracker" in cmdline


def live_descendants(root: int | None = None) -> list[int]:
    """Live processes below ``root`` (default: this one), except multiprocessing's
    forkserver and resource tracker, which live as long as the interpreter by design."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] not in ("Z", "X"):
                children.setdefault(stat[1], []).append(int(entry.name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            stack.append(child)
            if not _is_helper(child):
                found.append(child)
    return found


class ProcessProbe:
    alive = staticmethod(alive)
    live_descendants = staticmethod(live_descendants)


@pytest.fixture
def processes() -> ProcessProbe:
    """``processes.alive(pid)``, ``processes.live_descendants()``."""
    return ProcessProbe()
