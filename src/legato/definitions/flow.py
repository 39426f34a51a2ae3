"""``@lg.flow``: a plain Python function that calls tasks, with loops and branches."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Never, ParamSpec, TypeVar, overload

from legato.definitions.source import SourceLocation, docstring_of
from legato.definitions.validation import (
    definition_name,
    option_error,
    reject_unknown_options,
    require_callable,
    where_defined,
)

if TYPE_CHECKING:
    from legato.scheduler.spec import ScheduleSpec

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
    schedule: ScheduleSpec | None = None
    """When runs start on their own (``lg.cron(...)``, ``lg.every(...)``); a schedule
    named after the flow."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<flow {self.name}>"


@overload
def flow(fn: Callable[P, R], /) -> FlowDefinition[P, R]: ...


@overload
def flow(
    *,
    name: str | None = None,
    description: str | None = None,
    schedule: ScheduleSpec | None = None,
    **unknown: Never,
) -> Callable[[Callable[P, R]], FlowDefinition[P, R]]: ...


def flow(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    schedule: ScheduleSpec | None = None,
    **unknown: Never,
) -> FlowDefinition[P, R] | Callable[[Callable[P, R]], FlowDefinition[P, R]]:
    """Define a flow: its parameters are the run's parameters.

    ``schedule=lg.cron("0 3 * * *", tz="Europe/Berlin")`` (or ``lg.every("15m")``) starts
    runs on its own once ``legato serve`` runs; ``legato schedules`` lists its next times.
    """
    reject_unknown_options("flow", unknown, ("name", "description", "schedule"))

    def decorate(f: Callable[P, R]) -> FlowDefinition[P, R]:
        f = require_callable("flow", f)
        where = where_defined(f)
        flow_name = definition_name("flow", name, f, where)
        if schedule is not None:
            problem = schedule_problem(schedule, f)
            if problem:
                raise option_error("flow", flow_name, where, ValueError(problem))
        return FlowDefinition(
            name=flow_name,
            fn=f,
            description=description or docstring_of(f),
            location=where,
            is_async=inspect.iscoroutinefunction(f),
            schedule=schedule,
        )

    if fn is not None:
        return decorate(fn)
    return decorate


def schedule_problem(spec: object, fn: Callable[..., Any]) -> str | None:
    """Why ``spec`` cannot schedule runs of the flow function ``fn``; None when it can."""
    from legato.scheduler.spec import ScheduleSpec  # imported when used: keeps import cheap

    if isinstance(spec, str):
        return f"schedule takes lg.cron(...) or lg.every(...); write schedule=lg.cron({spec!r})"
    if not isinstance(spec, ScheduleSpec):
        return f"schedule must be lg.cron(...) or lg.every(...), not {spec!r}"
    from legato.scheduler.logical import SCHEDULE_PARAMS, not_a_string

    fills = schedule_fills(spec, fn)
    try:
        inspect.signature(fn).bind(**spec.params, **dict.fromkeys(fills, ""))
    except TypeError as error:
        if not str(error).startswith("missing"):
            return (f"its schedule's runs could not start: {error}; pass only the flow's "
                    "parameters in params={...}")
        accepted = ", ".join(SCHEDULE_PARAMS)
        return (f"its schedule's runs could not start: {error}; the scheduler fills only "
                f"parameters named {accepted} (ds is the logical date, YYYY-MM-DD): rename "
                "the parameter to one of these, give it a default, or pass params={...} to "
                "lg.cron(...) / lg.every(...)")
    except ValueError:
        return None  # no signature to check against (a builtin): the run will tell
    wrong = not_a_string(fn, fills)
    if wrong is not None:
        return (f"parameter '{wrong}' is filled by the scheduler with a string (ISO 8601 "
                "in UTC, or YYYY-MM-DD for ds): annotate it `str`, and use ctx.scheduled_at "
                "or ctx.data_interval in a step for datetimes")
    return None


def schedule_fills(spec: ScheduleSpec | None, fn: Callable[..., Any]) -> tuple[str, ...]:
    """The parameters of the flow function ``fn`` that its schedule's runs get from their
    tick: those of ``SCHEDULE_PARAMS`` it declares and ``spec.params`` does not give."""
    from legato.scheduler.logical import declared

    given = spec.params if spec is not None else {}
    return tuple(name for name in declared(fn) if name not in given)
