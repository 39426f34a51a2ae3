"""Loading user modules changes ``sys.modules`` and ``sys.path``: undo it after each test."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def user_code(project: Path) -> Iterator[Path]:
    """The ``project`` folder; modules imported from it are forgotten afterwards.

    Only the user's modules are forgotten: a library first imported during the test (say,
    SQLAlchemy through ``lg.load``) must stay, or a second copy of it would be loaded.
    """
    path = list(sys.path)
    roots = (project, project.resolve())
    importlib.invalidate_caches()
    yield project
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        search = list(getattr(module, "__path__", None) or [])
        if any(Path(p).is_relative_to(r) for r in roots for p in [origin, *search] if p):
            del sys.modules[name]
    sys.path[:] = path
