"""A step whose body takes its process down (``os._exit``, a segfault, the out-of-memory
killer): the resumed run records the attempt as failed — "the process died while running
this step" — counts it against the step's retries, and the next attempt's ``ctx.attempt``
goes on from it, whether the dead process's in-flight journal names the step or only the
store does (its start was written by the background flush)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from legato.store.records import RunStatus, StepStatus
from legato.store.sql_store import SqlStore

SRC = Path(__file__).resolve().parents[2] / "src"

FLOWS = '''
import os
import time
from pathlib import Path

import legato as lg

HERE = Path(__file__).parent


@lg.task
def fragile(ctx, pause: float) -> int:
    with (HERE / "attempts.txt").open("a") as ledger:
        ledger.write(f"{ctx.attempt}\\n")
    if ctx.attempt == 1:
        time.sleep(pause)
        os._exit(7)
    return ctx.attempt


@lg.flow
def crashing(pause: float = 0.0) -> int:
    return fragile(pause)
'''


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, project: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{project / '.legato' / 'legato.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _legato(project: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update({"PYTHONPATH": str(SRC), "LEGATO_HOME": str(project / ".legato"),
                "PYTHONDONTWRITEBYTECODE": "1"})
    if not url.startswith("sqlite"):
        env["LEGATO_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "legato.cli.main", *args], check=False,
                          cwd=project,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("journal", [True, False], ids=["journal", "store-only"])
def test_an_attempt_cut_short_by_a_crash_counts_and_ctx_attempt_goes_on(
        project: Path, url: str, journal: bool) -> None:
    (project / "flows.py").write_text(FLOWS)
    # without the journal, the store must know: the body outlives the deferred start's flush
    pause = "0" if journal else "0.6"
    crashed = _legato(project, url, "run", "flows.py", "crashing", "-p", f"pause={pause}")
    assert crashed.returncode == 7, crashed.stderr
    if not journal:
        shutil.rmtree(project / ".legato" / "inflight")
    resumed = _legato(project, url, "resume", "last")
    assert resumed.returncode == 0, resumed.stderr
    with SqlStore(url) as store:
        (run,) = store.list_runs()
        (step,) = store.get_steps(run.run_id)
        failed = [e for e in store.get_events(run.run_id) if e.kind == "step_failed"]
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (project / "attempts.txt").read_text().split() == ["1", "2"]
    assert (step.step_key, step.status, step.attempts) == ("fragile", StepStatus.SUCCEEDED, 2)
    (cut,) = failed
    assert (cut.step_key, cut.attempt, cut.data["crashed"]) == ("fragile", 1, True)
    assert cut.data["error"].startswith("the process died while running this step (process ")
    assert f"on {socket.gethostname()} died" in cut.data["error"]
