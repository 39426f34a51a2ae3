"""Loops of plugins inside ``legato serve``: found by entry point (``legato.loops``), run
next to the scheduler and the worker, and a failing one is reported and started again
while serve goes on."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.executors.plugin_kit import install_plugin

import legato as lg
from legato.daemon.loops import LoopContext, LoopFailure, LoopSupervisor, installed_loops
from legato.daemon.serve import Server

PROJECT = '''
import legato as lg


@lg.asset
def one() -> int:
    return 1
'''


def _serve(server: Server) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=server.run, args=(stop,))
    thread.start()
    return thread, stop


def _wait_for(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_installed_loops_run_inside_serve_and_a_failing_one_is_restarted(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin: Any = install_plugin(project / "site", monkeypatch)
    assert [point.name for point in installed_loops()] == ["flaky", "ticker"]
    (project / "pipelines.py").write_text(PROJECT)
    failures: list[LoopFailure] = []
    server = Server(lg.Settings(home=project / ".legato"),
                    lg.load(str(project / "pipelines.py")), on_loop_failure=failures.append)
    server.loops.first_pause_s = 0.05
    thread, stop = _serve(server)
    try:
        assert plugin.TICKS.wait(20)
        _wait_for(lambda: len(plugin.FLAKY) == 3)  # failed twice, running the third time
        assert thread.is_alive()  # serve went on
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert [(f.name, str(f.error), f.failures) for f in failures] == [
        ("flaky", "flaky failure 1", 1), ("flaky", "flaky failure 2", 2)]
    assert failures[1].restart_in == pytest.approx(2 * failures[0].restart_in)
    assert "RuntimeError: flaky failure 1" in failures[0].traceback


def test_a_loop_that_cannot_be_loaded_or_returns_early_is_reported(
        settings: Any) -> None:
    def cannot_load() -> Any:
        raise ImportError("No module named 'gone'")

    ran: list[str] = []

    def returns_at_once(context: LoopContext) -> None:
        ran.append(context.name)

    failures: list[LoopFailure] = []
    both_failed = threading.Event()

    def failed(failure: LoopFailure) -> None:
        failures.append(failure)
        if {f.name for f in failures} == {"broken", "early"}:
            both_failed.set()

    supervisor = LoopSupervisor({"broken": cannot_load, "early": lambda: returns_at_once},
                                settings=settings, definitions=lg.Definitions(),
                                owner="test", on_failure=failed, first_pause_s=10.0)
    stop = threading.Event()
    supervisor.start(stop)
    assert both_failed.wait(20)
    stop.set()
    supervisor.join(10)
    by_name = {f.name: f for f in failures}
    assert "ImportError: No module named 'gone'" in by_name["broken"].traceback
    assert str(by_name["early"].error) == "the loop returned before serve stopped"
    assert ran == ["early"]  # not restarted within its 10 s pause: stop ended the wait
