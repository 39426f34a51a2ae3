"""Per-attempt timeouts: a thread is abandoned and marked, a worker process is killed; the
run carries on either way and leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import legato as lg

# Worker processes get these functions by value, as they get those of a project file loaded
# by the CLI: they need not import this module (and pytest with it) for every run.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@lg.task(timeout=0.3)
def sleeper(seconds: float, pids: str) -> str:
    Path(pids, str(os.getpid())).touch()
    time.sleep(seconds)
    return "woke up"


@lg.task(timeout=0.3, retries=1)
def sleeper_retried(seconds: float, pids: str) -> str:
    Path(pids, str(os.getpid())).touch()
    time.sleep(seconds)
    return "woke up"


@lg.task(timeout=2)
def quick() -> str:
    return "quick"


@lg.task(timeout=0.2)
async def async_sleeper(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "woke up"


@lg.flow
def direct_call(seconds: float, pids: str) -> dict[str, Any]:
    caught = None
    try:
        sleeper(seconds, pids)
    except lg.StepFailed as failed:
        caught = {"key": failed.step_key, "error": failed.error}
    return {"caught": caught, "after": quick()}


@lg.flow
def retried(seconds: float, pids: str) -> str:
    sleeper_retried.submit(seconds, pids).exception()
    return quick()


@lg.flow
async def async_direct(seconds: float) -> str:
    try:
        await async_sleeper(seconds)
    except lg.StepFailed as failed:
        return failed.error
    return "no timeout"


@lg.asset(timeout=0.3)
def slow_asset(ctx: lg.StepContext) -> str:
    Path(ctx.params["pids"], str(os.getpid())).touch()
    time.sleep(ctx.params["seconds"])
    return "done"


@lg.asset
def after_slow(slow_asset: str) -> str:
    return slow_asset


@lg.asset
def unrelated() -> str:
    return "fine"


@pytest.fixture
def pids(tmp_path: Path) -> Path:
    folder = tmp_path / "pids"
    folder.mkdir()
    return folder


def _pids(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.iterdir())


def test_a_timed_out_step_fails_and_the_run_carries_on(run_settings: Any, executor: str,
                                                       pids: Path, read_store: Any) -> None:
    started = time.monotonic()
    result = lg.run(direct_call, settings=run_settings, seconds=5.0, pids=str(pids))
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"the run waited for the sleeping step ({elapsed:.1f} s)"
    assert result.status == "succeeded", result.error
    assert result.output["after"] == "quick"
    assert result.output["caught"]["key"] == "sleeper"
    error = result.output["caught"]["error"]
    assert "timed out after 0.3s" in error
    if executor == "processes":
        assert "its process was killed" in error
    else:
        assert "the thread was abandoned" in error
    assert result.steps["sleeper"].status == "failed"
    assert result.steps["sleeper"].attempts == 1
    step = next(s for s in read_store(run_settings).get_steps(result.run_id)
                if s.step_key == "sleeper")
    assert step.status == "failed"
    assert step.error == result.steps["sleeper"].error
    assert "StepTimeoutError" in (step.error or "")


def test_a_timed_out_worker_process_is_killed(make_settings: Any, pids: Path,
                                              processes: Any) -> None:
    settings = make_settings(executor="processes", max_parallel=2)
    result = lg.run(retried, settings=settings, seconds=30.0, pids=str(pids))
    assert result.status == "succeeded", result.error
    assert result.output == "quick"
    step = result.steps["sleeper_retried"]
    assert (step.status, step.attempts) == ("failed", 2)
    worker_pids = _pids(pids)
    assert worker_pids and os.getpid() not in worker_pids
    # each timed-out attempt's process was killed, not left sleeping
    assert not [pid for pid in worker_pids if processes.alive(pid)]
    assert processes.live_descendants() == []


def test_timed_out_assets_fail_and_independent_assets_finish(
    run_settings: Any, executor: str, pids: Path, processes: Any
) -> None:
    started = time.monotonic()
    result = lg.materialize([slow_asset, after_slow, unrelated], settings=run_settings,
                            params={"seconds": 5.0, "pids": str(pids)})
    assert time.monotonic() - started < 3.0
    assert result.steps["slow_asset"].status == "failed"
    assert "timed out" in (result.steps["slow_asset"].error or "")
    assert result.steps["after_slow"].status == "skipped"
    assert result.steps["unrelated"].status == "succeeded"
    if executor == "processes":
        assert not [pid for pid in _pids(pids) if processes.alive(pid)]
        assert processes.live_descendants() == []


def test_an_async_step_times_out_by_cancellation(run_settings: Any) -> None:
    result = lg.run(async_direct, settings=run_settings, seconds=5.0)
    assert result.status == "succeeded", result.error
    assert "timed out after 0.2s" in result.output
    assert result.steps["async_sleeper"].status == "failed"


def test_a_step_within_its_timeout_succeeds(run_settings: Any, pids: Path) -> None:
    result = lg.run(direct_call, settings=run_settings, seconds=0.0, pids=str(pids))
    assert result.status == "succeeded", result.error
    assert result.steps["sleeper"].status == "succeeded"
    assert result.value("sleeper") == "woke up"
