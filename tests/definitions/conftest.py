"""Loading user modules changes ``sys.modules`` and ``sys.path``: undo it after each test."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def user_code(project: Path) -> Iterator[Path]:
    """The ``project`` folder, with modules imported from it forgotten afterwards."""
    modules = set(sys.modules)
    path = list(sys.path)
    importlib.invalidate_caches()
    yield project
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    sys.path[:] = path
