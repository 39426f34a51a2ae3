"""``@lg.task``: forms, options, fallbacks, and plain calls, submit and map outside a run."""

from __future__ import annotations

import asyncio

import pytest

import legato as lg


def test_bare_decorator() -> None:
    @lg.task
    def fetch(url: str) -> str:
        """Fetch a page."""
        return url.upper()

    assert isinstance(fetch, lg.TaskDefinition)
    assert fetch.name == "fetch"
    assert fetch.description == "Fetch a page."
    assert (fetch.options.retry.retries, fetch.options.retry.max_attempts) == (0, 1)
    assert not fetch.wants_ctx
    assert not fetch.is_async
    assert fetch.location.file == __file__
    assert repr(fetch) == "<task fetch>"


def test_decorator_with_arguments() -> None:
    def use_cached(url: str) -> str:
        return "cached"

    @lg.task(
        name="fetch_page",
        retries=lg.Retry(5, base="200ms", max_delay="30s"),
        timeout=90,
        fallback=use_cached,
        cache=lg.cache.by_inputs.within("1h"),
        tags=["http"],
        code_version="v2",
        io="pickle",
    )
    def fetch(url: str) -> str:
        return url

    assert fetch.name == "fetch_page"
    assert (fetch.options.retry.retries, fetch.options.retry.max_attempts) == (5, 6)
    assert fetch.options.retry.base == 0.2
    assert fetch.options.timeout == 90.0
    assert fetch.options.fallback is use_cached
    assert fetch.options.cache is not None
    assert fetch.options.cache.expires_after == 3600.0
    assert fetch.options.tags == ("http",)
    assert fetch.code_version == "v2"
    assert fetch.options.io == "pickle"


def test_last_good_is_refused_on_a_task_with_the_alternative() -> None:
    with pytest.raises(lg.DefinitionError) as caught:

        @lg.task(fallback=lg.last_good)  # type: ignore[arg-type]
        def fetch() -> None: ...

    message = str(caught.value)
    assert "fallback=lg.last_good is for assets" in message
    assert "fallback function" in message
    assert "task 'fetch'" in message


def test_ctx_parameter_is_detected() -> None:
    @lg.task
    def work(ctx: lg.StepContext, n: int) -> int:
        return n

    @lg.task
    def other(context: object) -> None: ...

    assert work.wants_ctx
    assert not other.wants_ctx


def test_async_task_is_detected_and_plain_call_returns_a_coroutine() -> None:
    @lg.task
    async def fetch(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    assert fetch.is_async
    assert asyncio.run(fetch(4)) == 8


def test_calling_a_task_outside_a_run_is_a_plain_call() -> None:
    calls: list[int] = []

    @lg.task(retries=3)
    def fails(n: int) -> int:
        calls.append(n)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fails(1)
    assert calls == [1]  # no retries outside a run


def test_submit_outside_a_run_returns_a_finished_future() -> None:
    @lg.task
    def double(n: int) -> int:
        return n * 2

    future = double.submit(21)
    assert isinstance(future, lg.StepFuture)
    assert future.done()
    assert future.result() == 42
    assert future.exception() is None
    assert future.step_key == "double"
    assert "done" in repr(future)


def test_submit_outside_a_run_keeps_the_error_in_the_future() -> None:
    @lg.task
    def broken() -> None:
        raise ValueError("bad input")

    future = broken.submit()
    assert isinstance(future.exception(), ValueError)
    with pytest.raises(ValueError, match="bad input"):
        future.result()


def test_submit_runs_async_tasks_to_completion() -> None:
    @lg.task
    async def triple(n: int) -> int:
        return n * 3

    assert triple.submit(2).result() == 6


def test_map_outside_a_run_zips_iterables_and_passes_keywords() -> None:
    @lg.task
    def add(a: int, b: int, *, scale: int = 1) -> int:
        return (a + b) * scale

    futures = add.map([1, 2, 3], [10, 20, 30], scale=2)
    assert [f.result() for f in futures] == [22, 44, 66]
    assert add.map([]) == []


def test_map_refuses_iterables_of_different_lengths() -> None:
    @lg.task
    def add(a: int, b: int) -> int:
        return a + b

    with pytest.raises(ValueError, match=r"shorter|longer"):
        add.map([1, 2], [1])
