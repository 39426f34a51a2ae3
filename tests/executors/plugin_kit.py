"""A plugin package written into a temporary folder, as an installed one looks to
``importlib.metadata``: a module and a ``*.dist-info`` folder whose ``entry_points.txt``
registers its executor (``legato.executors``) and its loops (``legato.loops``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

MODULE = "legato_test_plugin"

SOURCE = '''
"""A test plugin: an executor with settings of its own that notes each body it runs, and
loops for legato serve."""

import os
import threading

from pydantic import BaseModel

from legato.executors.base import Capabilities
from legato.executors.threads import ThreadsExecutor

BODIES = []
"""(executor label, function name, process id) of each body run."""
TICKS = threading.Event()
FLAKY = []


class Labels(BaseModel, extra="forbid"):
    label: str = "counted"
    limit: int = 100


class CountedExecutor(ThreadsExecutor):
    """Threads, noting each body: registered by entry point and by import path."""

    name = "counted"
    settings = Labels

    def __init__(self, max_parallel, settings=None):
        super().__init__(max_parallel)
        self.label = (settings or Labels()).label

    def run_body(self, call):
        BODIES.append((self.label, call.fn.__name__, os.getpid()))
        return super().run_body(call)


class FarExecutor(ThreadsExecutor):
    """Says it runs bodies elsewhere: the engine must submit them, never call run_body."""

    name = "far"
    capabilities = Capabilities(remote=True, isolates_deaths=True, needs_pickling=True)
    SUBMITTED = []

    def run_body(self, call):
        raise AssertionError("the engine waited in run_body on a remote executor")

    def submit_body(self, call):
        FarExecutor.SUBMITTED.append(call.fn.__name__)
        return super().submit_body(call)


def plain(max_parallel):
    """A factory without settings."""
    return ThreadsExecutor(max_parallel)


def ticker(context):
    """A loop: says it runs, then waits for serve to stop."""
    assert context.name == "ticker" and context.owner
    TICKS.set()
    context.stop.wait()


def flaky(context):
    """A loop that fails twice, then runs until serve stops."""
    FLAKY.append(context.name)
    if len(FLAKY) <= 2:
        raise RuntimeError(f"flaky failure {len(FLAKY)}")
    context.stop.wait()
'''

ENTRY_POINTS = f"""
[legato.executors]
counted = {MODULE}:CountedExecutor

[legato.loops]
ticker = {MODULE}:ticker
flaky = {MODULE}:flaky
"""


def install_plugin(folder: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """Write the plugin into ``folder``, put it on ``sys.path`` (for this test only) and
    return its freshly imported module."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MODULE}.py").write_text(SOURCE)
    info = folder / f"{MODULE}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {MODULE}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    importlib.invalidate_caches()
    return importlib.import_module(MODULE)
