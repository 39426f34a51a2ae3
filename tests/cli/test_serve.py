"""``legato serve``: one process schedules and executes the project's runs, finishes a
detached backfill, stops cleanly on SIGTERM, and a second one on the same SQLite store
stands by as scheduler (its worker still executes runs)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.daemon.backfill_kit import assets_module

if TYPE_CHECKING:
    import pytest
    from tests.cli.conftest import Cli, Script

PROJECT = '''
import legato as lg


@lg.task
def plus_one(n: int) -> int:
    return n + 1


@lg.flow(schedule=lg.every("1s", catch_up="none", params={"n": 41}))
def heartbeat(n: int) -> int:
    return plus_one(n)
'''


def _serve(legato: Script, project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*legato.command, "serve", *args], cwd=project,
                            env=legato.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for(what: str, check: object, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_serve_runs_the_schedule_and_stops_on_sigterm(cli: Cli, legato: Script,
                                                      project: Path) -> None:
    (project / "pipelines.py").write_text(PROJECT)
    first = _serve(legato, project, "pipelines.py")
    second = _serve(legato, project, "pipelines.py")
    try:
        def succeeded() -> list[dict[str, object]]:
            return [r for r in cli.json("runs", "--json") if r["status"] == "succeeded"]

        _wait_for("three scheduled runs", lambda: len(succeeded()) >= 3)
    finally:
        for process in (first, second):
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=60) for process in (first, second)]
    for process, (out, err) in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, err
        assert "legato serve: 1 trigger, 4 worker slots on sqlite:///" in out
        assert "stopped: " in out and "Traceback" not in err
    logs = "".join(err for _, err in outputs)
    assert "is active (it holds the scheduler lease)" in logs
    assert "standing by" in logs  # one scheduler at a time on SQLite
    runs = cli.json("runs", "--json", "--limit", "200")
    keys = [r["idempotency_key"] for r in runs]
    assert len(keys) == len(set(keys)) >= 3  # one run per tick, whoever executed it
    assert all(key.startswith("schedule:heartbeat@") for key in keys)
    assert {r["trigger_key"] for r in runs} == {"schedule:heartbeat"}
    # each run ended: done, or released by the SIGTERM and left for a worker to resume
    assert {r["status"] for r in runs} <= {"succeeded", "queued", "running"}
    assert sum(r["status"] == "succeeded" for r in runs) >= 3


def test_serve_carries_a_detached_backfill_to_its_end(cli: Cli, legato: Script,
                                                     project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with assets_module(project, monkeypatch):
        created = cli("backfill", "bf_assets.py", "days", "--from", "2020-01-01", "--to",
                      "2020-01-06", "--max-concurrent", "2", "--detach")
        assert created.exit_code == 0, created.output
        server = _serve(legato, project, "bf_assets.py")
        try:
            _wait_for("the backfill to complete", lambda: cli.json(
                "backfills", "status", "last", "--json")["status"] != "running")
        finally:
            server.send_signal(signal.SIGTERM)
            out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    status = cli.json("backfills", "status", "last", "--json")
    assert (status["status"], status["succeeded"]) == ("completed", 6)
    assert out.count(" days succeeded") == 6  # each partition's run, executed here
