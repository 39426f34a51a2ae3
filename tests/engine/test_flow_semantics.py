"""Flows on every executor: direct calls, submit, map, futures as inputs, loops and
branches, async tasks and flows, step keys, the flow's return value as the run's output.

The tasks are module-level functions so that the processes executor can send them."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import pytest

import legato as lg


@lg.task
def double(x: int) -> int:
    return 2 * x


@lg.task
def add(a: int, b: int) -> int:
    return a + b


@lg.task
def total(values: list[int]) -> int:
    return sum(values)


@lg.task
def is_even(x: int) -> bool:
    return x % 2 == 0


@lg.task
def where(ctx: lg.StepContext) -> dict[str, Any]:
    return {"pid": os.getpid(), "thread": threading.get_ident(), "run_id": ctx.run_id,
            "step_key": ctx.step_key, "attempt": ctx.attempt,
            "idempotency_key": ctx.idempotency_key, "params": ctx.params}


@lg.task
async def square(x: int) -> int:
    await asyncio.sleep(0.01)
    return x * x


@lg.task
async def nap(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@lg.task
def committed(ctx: lg.StepContext, store_url: str, upstream: str, value: int) -> list[Any]:
    """What another connection sees of the upstream step while this one runs."""
    from legato.store.sql_store import SqlStore

    with SqlStore(store_url) as store:
        step = next((s for s in store.get_steps(ctx.run_id) if s.step_key == upstream), None)
        stored = store.get_value(step.value_id) if step and step.value_id else None
        return [step.status if step else None, stored.inline if stored else None, value]


@lg.task
def ctx_in_the_middle(x: int, ctx: lg.StepContext, y: int, z: int = 0) -> list[Any]:
    return [x, ctx.step_key, y, z]


@lg.flow
def ctx_positions() -> list[list[Any]]:
    return [ctx_in_the_middle(1, 2), ctx_in_the_middle(1, y=2, z=3),
            ctx_in_the_middle(x=1, y=2), ctx_in_the_middle(1, 2, 3)]


@lg.flow
def reads_its_upstream(store_url: str) -> list[Any]:
    first = double.submit(4)
    return committed(store_url, "double", first)


@lg.flow
def arithmetic(n: int) -> dict[str, Any]:
    a = double(n)  # a direct call returns the value
    b = add.submit(a, 1)  # a future
    parts = double.map([1, 2, 3])  # a list of futures
    s = total(parts)  # futures inside a list are resolved
    c = add(b, s)  # a future passed as an input
    return {"a": a, "b": b.result(), "sum": s, "c": c, "parts": [p.result() for p in parts]}


@lg.flow
def branching(limit: int) -> list[int]:
    out = []
    for i in range(limit):
        if is_even(i):
            out.append(double(i))
        else:
            out.append(i)
    return out


@lg.flow
def map_first(items: list[int]) -> list[int]:
    return [f.result() for f in double.map(items)]


@lg.flow
def two_maps() -> list[list[int]]:
    first = double.map([1, 2])
    second = double.map([3])
    return [[f.result() for f in first], [f.result() for f in second]]


@lg.flow
def map_zip() -> list[int]:
    return [f.result() for f in add.map([1, 2, 3], [10, 20, 30])]


@lg.flow
def map_kwargs() -> list[int]:
    return [f.result() for f in add.map([1, 2], b=100)]


@lg.flow
def nested_futures() -> int:
    a = double.submit(1)
    b = double.submit(2)
    return total({"not": "a list"}.get("x", [a, b]))


@lg.flow
def identity(ctx_value: str) -> list[dict[str, Any]]:
    return [where(), where.submit().result()]


@lg.flow
def returns_nothing() -> None:
    double(1)


@lg.flow
async def async_flow(n: int) -> list[int]:
    first = await square(n)
    rest = await asyncio.gather(*(square(i) for i in range(3)))
    plain = double(first)  # a synchronous task inside an async flow
    return [first, *rest, plain]


@lg.flow
def sync_flow_with_async_task(n: int) -> list[int]:
    return [double(n), square.submit(n).result(), square(n)]


@lg.flow
async def async_gather_naps(count: int, seconds: float) -> list[float]:
    return list(await asyncio.gather(*(nap(seconds) for _ in range(count))))


def _keys(result: Any) -> set[str]:
    return set(result.steps)


def test_calls_submit_map_and_futures_as_inputs(run_settings: Any, read_store: Any) -> None:
    result = lg.run(arithmetic, settings=run_settings, n=5)
    assert result.status == "succeeded", result.error
    assert result.output == {"a": 10, "b": 11, "sum": 12, "c": 23, "parts": [2, 4, 6]}
    assert _keys(result) == {"double", "add", "double-2[0]", "double-2[1]", "double-2[2]",
                             "total", "add-2"}
    assert all(s.status == "succeeded" and s.attempts == 1 for s in result.steps.values())
    assert result.value("add-2") == 23
    assert result.value("double-2[1]") == 4

    store = read_store(run_settings)
    assert store.get_run(result.run_id).status == "succeeded"
    steps = {s.step_key: s for s in store.get_steps(result.run_id)}
    assert set(steps) == _keys(result)
    assert all(s.status == "succeeded" for s in steps.values())
    # the engine records which steps' values fed each step
    assert steps["add"].upstream == []
    assert steps["add-2"].upstream == ["add"]
    assert sorted(steps["total"].upstream) == ["double-2[0]", "double-2[1]", "double-2[2]"]


def test_loops_and_branches_make_one_step_per_call(run_settings: Any) -> None:
    result = lg.run(branching, settings=run_settings, limit=5)
    assert result.status == "succeeded", result.error
    assert result.output == [0, 1, 4, 3, 8]
    assert _keys(result) == {"is_even", "is_even-2", "is_even-3", "is_even-4", "is_even-5",
                             "double", "double-2", "double-3"}
    assert result.value("is_even-2") is False


def test_map_keys(run_settings: Any) -> None:
    result = lg.run(map_first, settings=run_settings, items=[3, 4])
    assert result.output == [6, 8]
    assert _keys(result) == {"double[0]", "double[1]"}

    result = lg.run(two_maps, settings=run_settings)
    assert result.output == [[2, 4], [6]]
    assert _keys(result) == {"double[0]", "double[1]", "double-2[0]"}


def test_map_zips_iterables_and_passes_keywords(run_settings: Any) -> None:
    assert lg.run(map_zip, settings=run_settings).output == [11, 22, 33]
    assert lg.run(map_kwargs, settings=run_settings).output == [101, 102]


def test_futures_inside_containers(run_settings: Any) -> None:
    result = lg.run(nested_futures, settings=run_settings)
    assert result.status == "succeeded", result.error
    assert result.output == 6


def test_context_and_where_bodies_run(run_settings: Any, executor: str) -> None:
    result = lg.run(identity, settings=run_settings, ctx_value="v")
    assert result.status == "succeeded", result.error
    direct, submitted = result.output
    assert direct["run_id"] == submitted["run_id"] == result.run_id
    assert (direct["step_key"], submitted["step_key"]) == ("where", "where-2")
    assert direct["attempt"] == 1
    assert direct["idempotency_key"] == f"{result.run_id}:where"
    assert direct["params"] == {"ctx_value": "v"}
    if executor == "processes":
        assert direct["pid"] != os.getpid()
        assert submitted["pid"] != os.getpid()
    else:
        assert direct["pid"] == submitted["pid"] == os.getpid()
    if executor == "inline":
        # inline runs every body in the calling thread, for debuggers
        assert direct["thread"] == submitted["thread"] == threading.get_ident()
    if executor == "threads":
        assert submitted["thread"] != threading.get_ident()


def test_flow_without_return_value(run_settings: Any) -> None:
    result = lg.run(returns_nothing, settings=run_settings)
    assert result.status == "succeeded"
    assert result.output is None
    assert _keys(result) == {"double"}


def test_async_flow_awaits_and_gathers_async_tasks(run_settings: Any) -> None:
    result = lg.run(async_flow, settings=run_settings, n=3)
    assert result.status == "succeeded", result.error
    assert result.output == [9, 0, 1, 4, 18]
    assert _keys(result) == {"square", "square-2", "square-3", "square-4", "double"}
    assert result.value("square") == 9
    assert sorted(result.value(k) for k in ("square-2", "square-3", "square-4")) == [0, 1, 4]


def test_async_task_in_a_sync_flow(run_settings: Any) -> None:
    result = lg.run(sync_flow_with_async_task, settings=run_settings, n=4)
    assert result.status == "succeeded", result.error
    assert result.output == [8, 16, 16]  # a direct call in a sync flow returns the value
    assert _keys(result) == {"double", "square", "square-2"}


def test_gathered_async_tasks_run_concurrently(make_settings: Any) -> None:
    settings = make_settings(executor="threads", max_parallel=4)
    started = time.monotonic()
    result = lg.run(async_gather_naps, settings=settings, count=4, seconds=0.3)
    elapsed = time.monotonic() - started
    assert result.status == "succeeded", result.error
    assert result.output == [0.3] * 4
    assert elapsed < 1.0, f"four 0.3 s naps took {elapsed:.2f} s: they did not overlap"


def test_running_a_task_directly(run_settings: Any) -> None:
    result = lg.run(add, settings=run_settings, a=2, b=3)
    assert result.status == "succeeded", result.error
    assert result.output == 5
    assert _keys(result) == {"add"}


def test_running_an_async_task_directly(run_settings: Any) -> None:
    result = lg.run(square, settings=run_settings, x=7)
    assert result.status == "succeeded", result.error
    assert result.output == 49


def test_tasks_outside_a_run_are_plain_calls() -> None:
    assert double(4) == 8
    assert double.submit(2).result() == 4
    assert [f.result() for f in double.map([1, 2])] == [2, 4]


@pytest.mark.parametrize("flow", [arithmetic, branching])
def test_runs_are_recorded_with_their_params(flow: Any, make_settings: Any,
                                            read_store: Any) -> None:
    settings = make_settings(executor="threads")
    params = {"n": 1} if flow is arithmetic else {"limit": 2}
    result = lg.run(flow, settings=settings, **params)
    run = read_store(settings).get_run(result.run_id)
    assert (run.kind, run.target, run.params, run.status) == (
        "flow", flow.name, params, "succeeded")
    assert run.ended_at is not None and run.ended_at >= run.created_at


def test_a_task_result_is_committed_before_its_consumer_starts(run_settings: Any) -> None:
    result = lg.run(reads_its_upstream, settings=run_settings,
                    store_url=run_settings.store_url)
    assert result.status == "succeeded", result.error
    assert result.output == ["succeeded", "8", 8]


def test_ctx_wherever_it_is_declared(run_settings: Any) -> None:
    result = lg.run(ctx_positions, settings=run_settings)
    assert result.status == "succeeded", result.error
    assert result.output == [[1, "ctx_in_the_middle", 2, 0], [1, "ctx_in_the_middle-2", 2, 3],
                             [1, "ctx_in_the_middle-3", 2, 0], [1, "ctx_in_the_middle-4", 2, 3]]
