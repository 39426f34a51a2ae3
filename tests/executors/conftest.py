"""Fixtures for the executor tests: a look at the processes a run leaves behind (settings
per executor and the store are shared fixtures, in tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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
