"""The real ``legato`` console script in subprocesses: Ctrl-C mid-run, and two runs at once
on the same SQLite store."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.cli.conftest import Script

SLEEPY = '''
import time
from pathlib import Path

import legato as lg


@lg.task
def nap(i: int) -> int:
    Path(f"started-{i}").write_text("")
    time.sleep(60)
    return i


@lg.flow
def sleepy(n: int = 3):
    return [nap(i) for i in range(n)]
'''

BUSY = '''
import legato as lg


@lg.task
def square(i: int) -> int:
    print(f"square {i}")
    return i * i


@lg.flow
def busy(n: int = 40):
    return sum(future.result() for future in square.map(range(n)))
'''


def _default_sigint() -> None:
    """Python ignores Ctrl-C when it starts with SIGINT ignored, as it is in a background
    job of a non-interactive shell (a CI script running pytest with ``&``)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"legato exited early ({process.returncode}): {out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{path.name} never appeared")
        time.sleep(0.05)


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_ctrl_c_cancels_the_run_and_exits_130(project: Path, legato: Script,
                                              executor: str) -> None:
    (project / "sleepy.py").write_text(SLEEPY)
    process = subprocess.Popen([*legato.command, "run", "sleepy.py", "sleepy",
                                "--executor", executor],
                               cwd=project, env=legato.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=_default_sigint)  # noqa: PLW1509 - before exec
    _wait_for(project / "started-0", process)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 130, (out, err)
    assert time.monotonic() - started < 15  # it does not wait for the 60 s nap
    assert "Traceback" not in err, err
    shown = json.loads(legato(project, "show", "last", "--json").stdout)
    assert shown["run"]["status"] == "canceled"
    assert f"run {shown['run']['run_id']} canceled" in out
    assert [(s["step_key"], s["status"]) for s in shown["steps"]] == [("nap", "canceled")]
    assert not (project / "started-1").exists()  # the next step never started


def test_two_runs_at_once_on_one_sqlite_store(project: Path, legato: Script) -> None:
    (project / "busy.py").write_text(BUSY)
    processes = [
        subprocess.Popen([*legato.command, "run", "busy.py", "busy", "-p", f"n={n}"],
                         cwd=project, env=legato.env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for n in (60, 61)
    ]
    results = [(p, *p.communicate(timeout=120)) for p in processes]
    for process, out, err in results:
        assert process.returncode == 0, (out, err)
        assert "locked" not in out + err
    runs = json.loads(legato(project, "runs", "--json").stdout)
    assert sorted(r["params"]["n"] for r in runs) == [60, 61]
    assert {r["status"] for r in runs} == {"succeeded"}
    for run in runs:
        shown = json.loads(legato(project, "show", run["run_id"], "--json").stdout)
        assert len(shown["steps"]) == run["params"]["n"]


def test_output_piped_into_a_reader_that_stops_early(project: Path, legato: Script) -> None:
    """``legato run ... | head -1``: the run still finishes and is recorded as it ended."""
    (project / "busy.py").write_text(BUSY)
    process = subprocess.Popen([*legato.command, "run", "busy.py", "busy", "-p", "n=300"],
                               cwd=project, env=legato.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    process.stdout.close()  # the reader goes away
    _, err = process.communicate(timeout=60)
    assert first.startswith("succeeded  square[")
    assert process.returncode == 0, err
    [run] = json.loads(legato(project, "runs", "--json").stdout)
    assert run["status"] == "succeeded"
