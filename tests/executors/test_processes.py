"""What only the processes executor does: bodies in other processes that may die, and
arguments and values that must travel between processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import legato as lg


@lg.task(retries=1)
def dies(counter: str) -> int:
    path = Path(counter)
    attempt = len(path.read_text()) + 1 if path.exists() else 1
    path.write_text("x" * attempt)
    if attempt == 1:
        os._exit(3)  # the worker process vanishes mid-step
    return os.getpid()


@lg.task(retries=2)
def takes_anything(value: Any) -> str:
    return type(value).__name__


@lg.task
def pid() -> int:
    return os.getpid()


@lg.flow
def survives_a_dead_worker(counter: str) -> dict[str, Any]:
    other = pid.submit()
    return {"dies": dies(counter), "other": other.result()}


@lg.flow
def sends_a_lock() -> str:
    try:
        return takes_anything(threading.Lock())
    except lg.StepFailed as failed:
        return failed.error


@lg.flow
def closure_and_lambda(offset: int) -> list[int]:
    shifted = lg.task(name="shifted")(lambda x: x + offset)
    return [shifted(1), shifted.submit(2).result()]


def test_a_dead_worker_fails_the_attempt_and_is_replaced(make_settings: Any, tmp_path: Path,
                                                         processes: Any) -> None:
    settings = make_settings(executor="processes", max_parallel=2)
    result = lg.run(survives_a_dead_worker, settings=settings, counter=str(tmp_path / "n"))
    assert result.status == "succeeded", result.error
    step = result.steps["dies"]
    assert (step.status, step.attempts) == ("succeeded", 2)
    assert result.output["dies"] != os.getpid()
    assert processes.live_descendants() == []


def test_a_dead_worker_is_reported(make_settings: Any, tmp_path: Path,
                                   read_store: Any) -> None:
    settings = make_settings(executor="processes", max_parallel=2)
    result = lg.run(survives_a_dead_worker, settings=settings, counter=str(tmp_path / "n"))
    failed = next(e for e in read_store(settings).get_events(result.run_id)
                  if e.kind == "step_failed")
    assert failed.step_key == "dies"
    assert failed.data["error"] == "the process died while running this step (exit code 3)"
    assert failed.data["will_retry"] is True


def test_an_argument_that_cannot_travel_fails_at_once(make_settings: Any) -> None:
    settings = make_settings(executor="processes", max_parallel=2)
    result = lg.run(sends_a_lock, settings=settings)
    assert "cannot send the step to a worker process" in result.output
    assert "lock" in result.output
    assert result.steps["takes_anything"].attempts == 1


def test_closures_and_lambdas_travel_by_value(make_settings: Any) -> None:
    settings = make_settings(executor="processes", max_parallel=2)
    result = lg.run(closure_and_lambda, settings=settings, offset=10)
    assert result.status == "succeeded", result.error
    assert result.output == [11, 12]


QUICK_RUNS = """
import sys
import time
import legato as lg
import legato.executors.processes as processes
from legato.settings import Settings

if __name__ == "__mp_main__":  # a worker imports this script first: make that slow
    until = time.process_time() + 0.1
    while time.process_time() < until:  # busy, so that workers become ready one by one
        pass

@lg.task
def one():
    return 1

@lg.flow
def quick():
    return one.submit().result()

if __name__ == "__main__":
    processes.START_WAIT_S = float(sys.argv[2])
    for _ in range(4):
        result = lg.run(quick, settings=Settings(home=sys.argv[1], executor="processes",
                                                 max_parallel=8))
        print(result.status, flush=True)
"""


def run_quick_runs(project: Path, wait: float) -> subprocess.CompletedProcess[str]:
    script = project / "quick_runs.py"
    script.write_text(QUICK_RUNS)
    return subprocess.run([sys.executable, str(script), str(project / ".legato"), str(wait)],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
def test_closing_while_workers_start_is_quiet(project: Path) -> None:
    """Stopping the pool under a worker that is still starting makes it die with a
    FileNotFoundError traceback on the terminal; closing waits for starting workers."""
    done = run_quick_runs(project, wait=10.0)
    assert done.stdout.split() == ["succeeded"] * 4, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
