"""Concurrency: tag limits (``Settings(concurrency={"db": 2})``) and ``max_parallel``,
measured from the intervals during which step bodies actually ran."""

from __future__ import annotations

import asyncio
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

NAP = 0.15


def busy(folder: str, name: str) -> str:
    """Record when this body ran (a file per call, so that it works across processes)."""
    start = time.time()
    time.sleep(NAP)
    Path(folder, name).write_text(f"{start} {time.time()}")
    return name


async def busy_async(folder: str, name: str) -> str:
    start = time.time()
    await asyncio.sleep(NAP)
    Path(folder, name).write_text(f"{start} {time.time()}")
    return name


db = lg.task(name="db", tags=["db"])(busy)
db_and_api = lg.task(name="db_and_api", tags=["db", "api"])(busy)
free = lg.task(name="free")(busy)
free_async = lg.task(name="free_async")(busy_async)


def most_at_once(folder: Path, prefix: str = "") -> int:
    edges = []
    for path in folder.iterdir():
        if path.name.startswith(prefix):
            start, end = map(float, path.read_text().split())
            edges += [(start, 1), (end, -1)]
    most = current = 0
    for _, change in sorted(edges):  # an end sorts before a start at the same instant
        current += change
        most = max(most, current)
    return most


@lg.flow
def fan_out(folder: str, tagged: int, untagged: int) -> list[str]:
    futures = [db.submit(folder, f"db-{i}") for i in range(tagged)]
    futures += [free.submit(folder, f"free-{i}") for i in range(untagged)]
    return [f.result() for f in futures]


@lg.flow
def mixed_tags(folder: str) -> list[str]:
    futures = [db.submit(folder, f"db-{i}") for i in range(3)]
    futures += [db_and_api.submit(folder, f"both-{i}") for i in range(3)]
    return [f.result() for f in futures]


@lg.flow
async def gathered(folder: str, count: int) -> list[str]:
    return list(await asyncio.gather(*(free_async(folder, f"free-{i}") for i in range(count))))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "intervals"
    path.mkdir()
    return path


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_a_tag_limit_caps_the_steps_running_at_once(executor: str, make_settings: Any,
                                                    folder: Path) -> None:
    settings = make_settings(executor=executor, max_parallel=6, concurrency={"db": 2})
    result = lg.run(fan_out, settings=settings, folder=str(folder), tagged=6, untagged=0)
    assert result.status == "succeeded", result.error
    assert most_at_once(folder) == 2


def test_untagged_steps_are_not_held_back(make_settings: Any, folder: Path) -> None:
    settings = make_settings(executor="threads", max_parallel=8, concurrency={"db": 1})
    result = lg.run(fan_out, settings=settings, folder=str(folder), tagged=3, untagged=4)
    assert result.status == "succeeded", result.error
    assert most_at_once(folder, "db-") == 1
    assert most_at_once(folder, "free-") >= 3


def test_every_limited_tag_of_a_step_is_respected(make_settings: Any, folder: Path) -> None:
    settings = make_settings(executor="threads", max_parallel=8,
                             concurrency={"db": 2, "api": 1})
    result = lg.run(mixed_tags, settings=settings, folder=str(folder))
    assert result.status == "succeeded", result.error
    assert most_at_once(folder) == 2
    assert most_at_once(folder, "both-") == 1


@pytest.mark.parametrize(("executor", "limit"), [("threads", 3), ("processes", 2)])
def test_max_parallel_caps_the_steps_running_at_once(executor: str, limit: int,
                                                     make_settings: Any,
                                                     folder: Path) -> None:
    settings = make_settings(executor=executor, max_parallel=limit)
    result = lg.run(fan_out, settings=settings, folder=str(folder), tagged=0, untagged=7)
    assert result.status == "succeeded", result.error
    assert most_at_once(folder) == limit


def test_max_parallel_caps_gathered_async_tasks(make_settings: Any, folder: Path) -> None:
    settings = make_settings(executor="threads", max_parallel=2)
    result = lg.run(gathered, settings=settings, folder=str(folder), count=6)
    assert result.status == "succeeded", result.error
    assert most_at_once(folder) == 2


def test_inline_runs_one_step_at_a_time(make_settings: Any, folder: Path) -> None:
    settings = make_settings(executor="inline", max_parallel=8)
    result = lg.run(fan_out, settings=settings, folder=str(folder), tagged=2, untagged=2)
    assert result.status == "succeeded", result.error
    assert most_at_once(folder) == 1


@lg.asset(tags=["db"])
def table_a(ctx: lg.StepContext) -> str:
    return busy(ctx.params["folder"], "a")


@lg.asset(tags=["db"])
def table_b(ctx: lg.StepContext) -> str:
    return busy(ctx.params["folder"], "b")


@lg.asset(tags=["db"])
def table_c(ctx: lg.StepContext) -> str:
    return busy(ctx.params["folder"], "c")


def test_tag_limits_apply_to_assets(make_settings: Any, folder: Path) -> None:
    settings = make_settings(executor="threads", max_parallel=4, concurrency={"db": 1})
    result = lg.materialize([table_a, table_b, table_c], settings=settings,
                            params={"folder": str(folder)})
    assert result.status == "succeeded", result.error
    assert most_at_once(folder) == 1
    unlimited = make_settings(executor="threads", max_parallel=4)
    for path in folder.iterdir():
        path.unlink()
    lg.materialize([table_a, table_b, table_c], settings=unlimited,
                   params={"folder": str(folder)})
    assert most_at_once(folder) == 3
