"""Cron cadences: five-field cron expressions in an IANA timezone.

Expressions are checked here, field by field, so that a mistake is named precisely
("the minute field '61' is out of range: minutes are 0-59") without importing croniter;
croniter (imported on first use: it costs ~60 ms) walks the matching wall times, and the
rule of ``timezones`` turns each into an instant.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from legato.scheduler.timezones import (
    first_instant,
    repeated_span,
    require_aware,
    resolve_timezone,
    wall_clock,
)

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February: leap years
_MONTHS = {name: i for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    plural: str
    names: dict[str, int]


FIELDS = (
    _Field("minute", 0, 59, "minutes", {}),
    _Field("hour", 0, 23, "hours", {}),
    _Field("day-of-month", 1, 31, "days of the month", {}),
    _Field("month", 1, 12, "months", _MONTHS),
    _Field("day-of-week", 0, 7, "days of the week (0 and 7 are Sunday)", _DAYS),
)
FIELD_NAMES = "minute hour day-of-month month day-of-week"

_ITEM = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")


def check_cron(expression: object) -> str:
    """The expression with aliases expanded; a ValueError naming the bad field otherwise."""
    if not isinstance(expression, str):
        raise ValueError(f"a cron expression must be a string such as '0 3 * * *', "
                         f"not {expression!r}")
    text = " ".join(expression.split())
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise ValueError(f"cron {expression!r}: unknown shorthand; use one of "
                             f"{', '.join(ALIASES)} or five fields ({FIELD_NAMES})")
        return ALIASES[text.lower()]
    parts = text.split(" ") if text else []
    if len(parts) != 5:
        raise ValueError(
            f"cron {expression!r} has {len(parts)} field{'s' if len(parts) != 1 else ''}; "
            f"write five: {FIELD_NAMES} (e.g. '0 3 * * *' is 03:00 every day; for seconds, "
            "use lg.every('30s'))")
    sets: list[set[int] | None] = []
    for field, part in zip(FIELDS, parts, strict=True):
        try:
            sets.append(_expand(field, part.lower()))
        except ValueError as error:
            raise ValueError(f"cron {expression!r}: the {field.name} field {part!r} "
                             f"{error}") from None
    if any(s is None for s in sets):
        _check_with_croniter(expression, text, parts)
    else:
        _check_some_day_matches(expression, sets[2], sets[3], parts[4])
    return text


def _expand(field: _Field, part: str) -> set[int] | None:
    """The values a field allows; None for croniter's extensions (L, W, #, ?, H)."""
    values: set[int] = set()
    for item in part.split(","):
        if not item:
            raise ValueError("has an empty item in its list")
        match = _ITEM.match(item)
        if match is None:
            if re.fullmatch(r"[0-9a-z*/#?-]+", item):
                return None  # an extension: croniter judges it
            raise ValueError(f"is not valid: {_grammar(field)}")
        star, first, last, step_text = match.groups()
        step = int(step_text) if step_text is not None else 1
        if step < 1:
            raise ValueError("has a step of 0; a step must be at least 1 (*/15: every 15)")
        if star:
            low, high = field.low, field.high
        else:
            start = _value(field, first)
            end = _value(field, last) if last is not None else (
                field.high if step_text is not None else start)
            if start is None or end is None:
                return None
            low, high = start, end
        if low <= high:
            values.update(range(low, high + 1, step))
        else:  # a range that wraps around, as croniter reads it: fri-mon, 22-2
            span = [*range(low, field.high + 1), *range(field.low, high + 1)]
            values.update(span[::step])
    return values


def _value(field: _Field, text: str) -> int | None:
    if text.isdigit():
        number = int(text)
        if not field.low <= number <= field.high:
            raise ValueError(f"is out of range: {field.plural} are "
                             f"{field.low}-{field.high}")
        return number
    if text in field.names:
        return field.names[text]
    if text.isalpha() and text not in ("l", "w"):
        if field.names:
            raise ValueError(f"is not valid: {text!r} is not a name; {_grammar(field)}")
        raise ValueError(f"is not valid: {_grammar(field)}")
    return None


def _grammar(field: _Field) -> str:
    names = ""
    if field is FIELDS[3]:
        names = " or names jan-dec"
    elif field is FIELDS[4]:
        names = " or names sun-sat"
    return (f"write numbers {field.low}-{field.high}{names}, ranges (1-5), lists (1,5) or "
            "steps (*/15)")


def _check_some_day_matches(expression: str, days: set[int] | None, months: set[int] | None,
                            weekday: str) -> None:
    """A day-of-month that no chosen month has ('0 0 30 2 *') would never fire."""
    if days is None or months is None or weekday not in ("*", "?"):
        return
    longest = {m: _LONGEST_MONTH[m - 1] for m in months}
    if not any(d <= longest[m] for m in months for d in days):
        raise ValueError(f"cron {expression!r} never fires: none of the chosen months has "
                         "that day (check the day-of-month and month fields)")


def _check_with_croniter(expression: str, text: str, parts: list[str]) -> None:
    """Extensions (L, W, #, ?) are croniter's: it judges them, and we name the field."""
    croniter, bad_cron, bad_date = _croniter()
    try:
        croniter(text, dt.datetime(2000, 1, 1)).get_next(dt.datetime)
    except bad_date:
        raise ValueError(f"cron {expression!r} never fires") from None
    except (bad_cron, ValueError, KeyError, IndexError) as error:
        for i, (field, part) in enumerate(zip(FIELDS, parts, strict=True)):
            alone = " ".join(part if j == i else "*" for j in range(5))
            if not croniter.is_valid(alone):
                raise ValueError(f"cron {expression!r}: the {field.name} field {part!r} is "
                                 f"not valid: {_grammar(field)}") from None
        raise ValueError(f"cron {expression!r} is not valid: {error}") from None


def _croniter() -> tuple[Any, type[Exception], type[Exception]]:
    from croniter import CroniterBadCronError, CroniterBadDateError, croniter

    return croniter, CroniterBadCronError, CroniterBadDateError


@dataclass(frozen=True, slots=True)
class CronCadence:
    """Fires at the local wall times a cron expression names, in ``tz``: each wall time
    once, at the first instant the clock shows it or later (see ``timezones``)."""

    expression: str
    tz: str = "UTC"

    def describe(self) -> str:
        return f"cron '{self.expression}' ({self.tz})"

    def iter_after(self, instant: dt.datetime) -> Iterator[dt.datetime]:
        """Fire times strictly after ``instant``, in order, in UTC (lazily, unbounded)."""
        zone = resolve_timezone(self.tz)
        after = require_aware(instant)
        last = after
        for wall in self._walls(wall_clock(after, zone), forward=True):
            at = first_instant(wall, zone)
            if at > last:  # skips wall times already shown, and the jumped-over ones
                last = at
                yield at

    def iter_at_or_before(self, instant: dt.datetime) -> Iterator[dt.datetime]:
        """Fire times at or before ``instant``, newest first, in UTC."""
        zone = resolve_timezone(self.tz)
        until = require_aware(instant)
        # In the second pass of a repeated span, later wall times have fired already.
        highest = wall_clock(until, zone) + repeated_span(until, zone)
        start = highest.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        last: dt.datetime | None = None
        for wall in self._walls(start, forward=False):
            at = first_instant(wall, zone)
            if at <= until and (last is None or at < last):
                last = at
                yield at

    def next_after(self, instant: dt.datetime) -> dt.datetime | None:
        return next(self.iter_after(instant), None)

    def latest_at_or_before(self, instant: dt.datetime) -> dt.datetime | None:
        return next(self.iter_at_or_before(instant), None)

    def local(self, instant: dt.datetime) -> dt.datetime:
        return instant.astimezone(resolve_timezone(self.tz))

    def _walls(self, start: dt.datetime, *, forward: bool) -> Iterator[dt.datetime]:
        croniter, _, bad_date = _croniter()
        walk = croniter(self.expression, start)
        step = walk.get_next if forward else walk.get_prev
        while True:
            try:
                wall = step(dt.datetime)
            except (bad_date, OverflowError, ValueError):
                return
            yield wall.replace(tzinfo=None)
