"""``@lg.task``: one unit of work inside a flow, with retries, timeout, cache, fallback."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, Never, ParamSpec, TypeVar, cast, overload

from legato.definitions.options import CachePolicy, Retry
from legato.definitions.runtime import active_flow
from legato.definitions.source import SourceLocation, code_version_of, docstring_of
from legato.definitions.step_options import STEP_OPTION_NAMES, StepOptions, parse_step_options
from legato.definitions.validation import (
    RESERVED_PARAMS,
    definition_name,
    option_error,
    parameters_of,
    reject_unknown_options,
    require_callable,
    where_defined,
)

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class StepFuture(Generic[T]):
    """The eventual result of ``task.submit(...)`` or one item of ``task.map(...)``.

    Passing a future to another task makes that task wait for it and receive its value.
    """

    __slots__ = ("_future", "observed", "step_key")

    def __init__(self, step_key: str, future: Future[T]) -> None:
        self.step_key = step_key
        self._future = future
        self.observed = False
        """Whether the flow looked at the outcome (``result()`` or passing it on)."""

    def result(self, timeout: float | None = None) -> T:
        """The task's value; raises ``StepFailed`` when it failed for good."""
        try:
            return self._future.result(timeout)
        finally:
            self.observed = self._future.done()

    def exception(self) -> BaseException | None:
        """Wait for the task; its error, or None if it succeeded."""
        error = self._future.exception()
        self.observed = True
        return error

    def done(self) -> bool:
        return self._future.done()

    def __repr__(self) -> str:
        state = "done" if self._future.done() else "pending"
        return f"<StepFuture {self.step_key} {state}>"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDefinition(Generic[P, R]):
    """A task. Inside a running flow, calling it runs it as a step (recorded, retried,
    cached); outside a run it is a plain function call."""

    name: str
    fn: Callable[P, R]
    options: StepOptions
    description: str | None
    location: SourceLocation
    wants_ctx: bool
    is_async: bool

    @property
    def code_version(self) -> str:
        return self.options.code_version or code_version_of(self.fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        runtime = active_flow.get()
        if runtime is None:
            return self.fn(*args, **kwargs)
        if self.is_async:
            return cast(R, runtime.call_async(self, args, kwargs))  # a coroutine to await
        return runtime.call(self, args, kwargs)  # type: ignore[no-any-return]

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> StepFuture[R]:
        """Start the task without waiting; returns a future."""
        runtime = active_flow.get()
        if runtime is None:
            future: Future[R] = Future()
            try:
                future.set_result(self._call_plain(args, kwargs))
            except Exception as error:
                future.set_exception(error)
            return StepFuture(self.name, future)
        return runtime.submit(self, args, kwargs)

    def map(self, *iterables: Iterable[Any], **kwargs: Any) -> list[StepFuture[R]]:
        """One step per item (zipped across several iterables); keyword arguments are
        passed unchanged to every call."""
        runtime = active_flow.get()
        if runtime is None:
            return [self.submit(*items, **kwargs) for items in zip(*iterables, strict=True)]
        return runtime.map(self, iterables, kwargs)

    def _call_plain(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        if self.is_async:
            import asyncio

            return asyncio.run(self.fn(*args, **kwargs))  # type: ignore[arg-type]
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name}>"


_TASK_OPTIONS = STEP_OPTION_NAMES


@overload
def task(fn: Callable[P, R], /) -> TaskDefinition[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    retries: Retry | int | None = None,
    timeout: float | str | None = None,
    fallback: Callable[..., Any] | None = None,
    cache: CachePolicy | None = None,
    tags: Iterable[str] | None = None,
    description: str | None = None,
    code_version: str | None = None,
    io: str = "auto",
    executor: str | None = None,
    **unknown: Never,
) -> Callable[[Callable[P, R]], TaskDefinition[P, R]]: ...


def task(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retries: Retry | int | None = None,
    timeout: float | str | None = None,
    fallback: Callable[..., Any] | None = None,
    cache: CachePolicy | None = None,
    tags: Iterable[str] | None = None,
    description: str | None = None,
    code_version: str | None = None,
    io: str = "auto",
    executor: str | None = None,
    **unknown: Never,
) -> TaskDefinition[P, R] | Callable[[Callable[P, R]], TaskDefinition[P, R]]:
    """Define a task. A ``fallback`` function receives the same arguments as the task and
    its return value is used when every attempt failed."""
    reject_unknown_options("task", unknown, _TASK_OPTIONS)

    def decorate(f: Callable[P, R]) -> TaskDefinition[P, R]:
        f = require_callable("task", f)
        where = where_defined(f)
        task_name = definition_name("task", name, f, where)
        try:
            options = parse_step_options(
                retries=retries,
                timeout=timeout,
                fallback=fallback,
                cache=cache,
                tags=tags,
                io=io,
                code_version=code_version,
                executor=executor,
                allow_last_good=False,
            )
        except ValueError as error:
            raise option_error("task", task_name, where, error) from None
        params = parameters_of("task", task_name, f, where)
        return TaskDefinition(
            name=task_name,
            fn=f,
            options=options,
            description=description or docstring_of(f),
            location=where,
            wants_ctx=any(p in RESERVED_PARAMS for p in params),
            is_async=inspect.iscoroutinefunction(f),
        )

    if fn is not None:
        return decorate(fn)
    return decorate
