"""``lg.cron(...)`` and ``lg.every(...)``: when a schedule fires, and its catch-up policy.

Both return a ``ScheduleSpec``, which ``@lg.flow(schedule=...)`` and ``lg.schedule(...)``
take. Mistakes raise ``DefinitionError`` at the line that wrote them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from legato.definitions.source import caller_location
from legato.errors import DefinitionError, Problem
from legato.scheduler.catch_up import CatchUp, CatchUpPolicy, check_catch_up
from legato.scheduler.cron import CronCadence, check_cron
from legato.scheduler.interval import EPOCH, IntervalCadence, check_interval, describe_seconds
from legato.scheduler.timezones import parse_instant, require_aware, resolve_timezone


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSpec:
    """When runs start (a cron or an interval cadence), what to do with ticks missed
    while no scheduler ran, and the parameters a flow's runs get."""

    cadence: CronCadence | IntervalCadence
    catch_up: CatchUp
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def describe(self) -> str:
        return self.cadence.describe()

    def __repr__(self) -> str:
        if isinstance(self.cadence, CronCadence):
            return f"lg.cron({self.cadence.expression!r}, tz={self.cadence.tz!r})"
        return f"lg.every({describe_seconds(self.cadence.seconds)!r})"


def cron(
    expression: str,
    *,
    tz: str = "UTC",
    catch_up: CatchUpPolicy = "latest",
    catch_up_limit: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> ScheduleSpec:
    """Fire at the times a five-field cron expression names, in the IANA timezone ``tz``.

    ``"0 3 * * *"`` is 03:00 every day; ``@hourly``, ``@daily``, ``@weekly``,
    ``@monthly`` and ``@yearly`` are shorthands. Across DST changes each local time fires
    once: a time the clocks skip fires at the first instant after the gap; a time they
    show twice fires at its first occurrence.
    """
    try:
        expanded = check_cron(expression)
        zone = resolve_timezone(tz)
        policy = check_catch_up(catch_up, catch_up_limit)
        run_params = _params(params)
    except ValueError as error:
        raise _invalid("lg.cron", error) from None
    return ScheduleSpec(cadence=CronCadence(expanded, zone.key), catch_up=policy,
                        params=run_params)


def every(
    interval: str | float | dt.timedelta,
    *,
    anchor: dt.datetime | str | None = None,
    catch_up: CatchUpPolicy = "latest",
    catch_up_limit: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> ScheduleSpec:
    """Fire every ``interval`` of elapsed time (``"30s"``, ``"15m"``, ``"6h"``, seconds,
    or a timedelta), on a grid through ``anchor`` (default: the Unix epoch, so ``"15m"``
    fires at :00, :15, :30 and :45)."""
    try:
        seconds = check_interval(interval)
        start = _anchor(anchor)
        policy = check_catch_up(catch_up, catch_up_limit)
        run_params = _params(params)
    except ValueError as error:
        raise _invalid("lg.every", error) from None
    return ScheduleSpec(cadence=IntervalCadence(seconds, start), catch_up=policy,
                        params=run_params)


def _anchor(anchor: object) -> dt.datetime:
    if anchor is None:
        return EPOCH
    if isinstance(anchor, str):
        try:
            return parse_instant(anchor)
        except ValueError:
            raise ValueError(f"anchor {anchor!r} is not an instant; write ISO 8601 with an "
                             "offset, e.g. '2026-01-01T00:00:00Z'") from None
    if isinstance(anchor, dt.datetime):
        return require_aware(anchor, "anchor")
    raise ValueError(f"anchor must be an aware datetime or an ISO 8601 string, not {anchor!r}")


def _params(params: object) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise ValueError(f"params must be a dict of parameter names to values, not {params!r}")
    return dict(params)


def _invalid(what: str, error: ValueError) -> DefinitionError:
    where = caller_location()
    return DefinitionError([Problem(f"{what}: {error}", where.file, where.line)])
