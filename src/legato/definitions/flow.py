"""``@lg.flow``: a plain Python function that calls tasks, with loops and branches."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Never, ParamSpec, TypeVar, overload

from legato.definitions.source import SourceLocation, docstring_of
from legato.definitions.validation import (
    definition_name,
    reject_unknown_options,
    require_callable,
    where_defined,
)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowDefinition(Generic[P, R]):
    """A flow. ``lg.run(flow, **params)`` runs it durably; calling it directly is a plain
    call (tasks inside run as steps of the surrounding run, if there is one)."""

    name: str
    fn: Callable[P, R]
    description: str | None
    location: SourceLocation
    is_async: bool

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<flow {self.name}>"


@overload
def flow(fn: Callable[P, R], /) -> FlowDefinition[P, R]: ...


@overload
def flow(
    *, name: str | None = None, description: str | None = None, **unknown: Never
) -> Callable[[Callable[P, R]], FlowDefinition[P, R]]: ...


def flow(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    **unknown: Never,
) -> FlowDefinition[P, R] | Callable[[Callable[P, R]], FlowDefinition[P, R]]:
    """Define a flow: its parameters are the run's parameters."""
    reject_unknown_options("flow", unknown, ("name", "description"))

    def decorate(f: Callable[P, R]) -> FlowDefinition[P, R]:
        f = require_callable("flow", f)
        where = where_defined(f)
        return FlowDefinition(
            name=definition_name("flow", name, f, where),
            fn=f,
            description=description or docstring_of(f),
            location=where,
            is_async=inspect.iscoroutinefunction(f),
        )

    if fn is not None:
        return decorate(fn)
    return decorate
