"""A scheduled run's logical time: the instant it was scheduled for and its data interval.

A schedule's tick at ``T`` makes a run whose ``scheduled_at`` is ``T`` and whose data
interval is ``(previous tick, T)``, as Airflow's ``data_interval_start``/``_end``: the
nightly run at 03:00 on the 3rd processes what arrived from 03:00 on the 2nd. Its ``ds`` is
the date of the interval's start in the schedule's timezone (``"2026-12-02"``), Airflow's
logical date. They are recorded with the queued run (``run_queued``), so that a resumed run
sees the same values, and a scheduled flow that declares a parameter of one of these names
gets it filled (``SCHEDULE_PARAMS``).
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from legato.scheduler.timezones import UTC, just_before, parse_instant, require_aware, tick_key

SCHEDULE_PARAMS = ("scheduled_at", "data_interval_start", "data_interval_end", "ds")
"""Flow parameters the scheduler fills when the flow declares them and the schedule's
``params`` do not give them: ISO 8601 instants in UTC (``2026-12-03T02:00:00Z``) and the
logical date as ``YYYY-MM-DD``."""


@dataclass(frozen=True, slots=True)
class LogicalTime:
    """When a scheduled run was due, its data interval (start included, end excluded,
    both UTC) and its logical date ``ds``."""

    scheduled_at: dt.datetime
    interval_start: dt.datetime
    interval_end: dt.datetime
    ds: str

    @property
    def data_interval(self) -> tuple[dt.datetime, dt.datetime]:
        return (self.interval_start, self.interval_end)

    def params(self) -> dict[str, str]:
        """The values of ``SCHEDULE_PARAMS``, as JSON strings."""
        return {"scheduled_at": tick_key(self.scheduled_at),
                "data_interval_start": tick_key(self.interval_start),
                "data_interval_end": tick_key(self.interval_end), "ds": self.ds}

    def to_data(self) -> dict[str, Any]:
        """For the ``run_queued`` event."""
        return {"scheduled_at": tick_key(self.scheduled_at),
                "data_interval": [tick_key(self.interval_start), tick_key(self.interval_end)],
                "ds": self.ds}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> LogicalTime | None:
        """From a ``run_queued`` event's data; None for a run no schedule requested."""
        at, interval = data.get("scheduled_at"), data.get("data_interval")
        if not isinstance(at, str) or not isinstance(interval, list) or len(interval) != 2:
            return None
        start, end = (parse_instant(str(i)) for i in interval)
        return cls(parse_instant(at), start, end, str(data.get("ds") or start.date()))


def logical_time(cadence: Any, at: dt.datetime) -> LogicalTime:
    """The logical time of the tick at ``at`` of ``cadence`` (a cron or interval cadence):
    its data interval runs from the cadence's previous tick (or ``at`` itself, when there
    is none) to ``at``."""
    end = require_aware(at, "at").astimezone(UTC)
    previous = cadence.latest_at_or_before(just_before(end))
    start = end if previous is None else previous.astimezone(UTC)
    local = start.astimezone(ZoneInfo(cadence.tz))
    return LogicalTime(end, start, end, local.date().isoformat())


def declared(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The ``SCHEDULE_PARAMS`` that ``fn`` declares (by name, or all with ``**kwargs``
    excluded: only explicit names are filled)."""
    try:
        names = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return ()
    return tuple(name for name in SCHEDULE_PARAMS if name in names
                 and names[name].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                          inspect.Parameter.KEYWORD_ONLY))


def not_a_string(fn: Callable[..., Any], names: tuple[str, ...]) -> str | None:
    """A filled parameter annotated with another type than ``str`` (they are filled with
    strings): the first such name, or None."""
    parameters = inspect.signature(fn).parameters
    for name in names:
        annotation = parameters[name].annotation
        if annotation not in (inspect.Parameter.empty, str, "str"):
            return name
    return None
