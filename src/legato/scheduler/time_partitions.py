"""Time partitions: hourly, daily, weekly and monthly windows of local calendar time.

| Kind | Key | Window |
|---|---|---|
| hourly | ``2026-11-20T13:00`` | that wall-clock hour |
| daily | ``2026-11-20`` | that date, midnight to midnight |
| weekly | ``2026-W47`` | that ISO week, Monday to Monday |
| monthly | ``2026-11`` | that month, the 1st to the 1st |

Keys sort as strings in time order. A window starts and ends at local wall times, turned
into instants by the rule of ``timezones``: so a day is 23 or 25 hours long on a DST day;
on a fall-back day the repeated hour is one two-hour partition (``02:00`` in
Europe/Berlin); on a spring-forward day the skipped hour is no partition at all. Windows
tile time: no gap, no overlap. ``start`` is the first partition, ``end`` (optional) the
first one *not* included, as in Python ranges.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from legato.definitions.source import caller_location
from legato.errors import DefinitionError, PartitionError, Problem
from legato.scheduler.partitions import Partitions, TimeWindow
from legato.scheduler.timezones import (
    UTC,
    first_instant,
    repeated_span,
    require_aware,
    resolve_timezone,
    wall_clock,
)


class TimePartitions(Partitions):
    """Windows of one calendar unit in a timezone, from ``start`` (up to ``end``)."""

    __slots__ = ("end", "start", "tz")
    unit: ClassVar[str]
    key_format: ClassVar[str]
    example: ClassVar[str]
    aligned: ClassVar[str]
    _pattern: ClassVar[re.Pattern[str]]

    def __init__(self, start: str | dt.date | dt.datetime, *, tz: str = "UTC",
                 end: str | dt.date | dt.datetime | None = None) -> None:
        name = type(self).__name__
        try:
            self.tz: str = resolve_timezone(tz).key
            self.start: dt.datetime = self._bound(start, "start")
            self.end: dt.datetime | None = None if end is None else self._bound(end, "end")
            if self.end is not None and self.end <= self.start:
                order = "equal to" if self.end == self.start else "after"
                raise ValueError(
                    f"start {self._format(self.start)!r} is {order} end "
                    f"{self._format(self.end)!r}, so there are no partitions (end is the first "
                    "partition not included)")
        except ValueError as error:
            where = caller_location()
            raise DefinitionError([Problem(f"{name}: {error}", where.file, where.line)]) from None

    # -- the calendar unit: subclasses define these four, and ``_pattern`` -------------

    def _floor(self, wall: dt.datetime) -> dt.datetime:
        raise NotImplementedError

    def _step(self, wall: dt.datetime, n: int = 1) -> dt.datetime:
        raise NotImplementedError

    def _format(self, wall: dt.datetime) -> str:
        raise NotImplementedError

    def _wall(self, *numbers: int) -> dt.datetime:
        """The window's starting wall time, from the numbers ``_pattern`` matched."""
        raise NotImplementedError

    def _parse(self, key: str) -> dt.datetime:
        """The window's starting wall time; ValueError when ``key`` is not of the format."""
        match = self._pattern.fullmatch(key)
        if match is None:
            raise ValueError(key)
        return self._wall(*map(int, match.groups()))

    # -- the shared arithmetic ---------------------------------------------------------

    def window(self, key: str) -> TimeWindow:
        """The span of time of partition ``key``."""
        wall = self._wall_of(key)
        return TimeWindow(self._instant(wall), self._instant(self._step(wall)), self.tz)

    def key_for(self, instant: dt.datetime) -> str | None:
        """The key of the partition whose window holds ``instant``; None outside them."""
        wall = self._containing(require_aware(instant))
        if wall is None or not self._in_range(wall):
            return None
        return self._format(wall)

    def last_complete(self, now: dt.datetime) -> str | None:
        """The newest partition whose window has ended by ``now``; None when none has."""
        wall = self._last_complete_wall(require_aware(now, "now"))
        return None if wall is None else self._format(wall)

    def validate(self, key: str, *, now: dt.datetime | None = None) -> str:
        wall = self._wall_of(key)
        if now is not None:
            end = self._instant(self._step(wall))
            if end > require_aware(now, "now"):
                zone = resolve_timezone(self.tz)
                raise PartitionError(
                    f"partition {key!r} has not ended yet: its window ends at "
                    f"{end.astimezone(zone).isoformat()}")
        return key

    def keys(self, first: str | None = None, last: str | None = None, *,
             now: dt.datetime | None = None) -> Iterator[str]:
        low = self._wall_of(first) if first is not None else self.start
        if last is not None:
            high: dt.datetime | None = self._wall_of(last)
            if first is not None and high is not None and low > high:
                raise PartitionError(
                    f"the range {first!r} to {last!r} is in the wrong order: {first!r} comes "
                    f"after {last!r}", hint="swap the two keys")
        elif self.end is not None:
            high = self._step(self.end, -1)
        else:
            at = dt.datetime.now(UTC) if now is None else require_aware(now, "now")
            high = self._last_complete_wall(at)
        return self._walk(low, high)

    def describe(self) -> str:
        until = f" to {self._format(self.end)} (excluded)" if self.end is not None else ""
        return f"{self.unit} from {self._format(self.start)}{until} ({self.tz})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.unit, "start": self._format(self.start),
                "end": None if self.end is None else self._format(self.end), "tz": self.tz}

    def same_calendar(self, other: TimePartitions) -> bool:
        """Whether windows of ``self`` and ``other`` line up: the same timezone, and one
        unit nests in the other (hours and days nest in everything; weeks and months do
        not nest in each other)."""
        return self.tz == other.tz and {self.unit, other.unit} != {"weekly", "monthly"}

    def first_instant(self) -> dt.datetime:
        return self._instant(self.start)

    def end_instant(self) -> dt.datetime | None:
        return None if self.end is None else self._instant(self.end)

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and isinstance(other, TimePartitions)
                and (other.start, other.end, other.tz) == (self.start, self.end, self.tz))

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.start, self.end, self.tz))

    def __repr__(self) -> str:
        end = f", end={self._format(self.end)!r}" if self.end is not None else ""
        return f"{type(self).__name__}(start={self._format(self.start)!r}, tz={self.tz!r}{end})"

    def _walk(self, low: dt.datetime, high: dt.datetime | None) -> Iterator[str]:
        if high is None:
            return
        wall = low
        while wall <= high:
            try:
                after = self._step(wall)
            except (OverflowError, ValueError):
                return  # the end of the calendar (year 9999)
            if self._instant(wall) < self._instant(after):
                yield self._format(wall)
            wall = after

    def _instant(self, wall: dt.datetime) -> dt.datetime:
        return first_instant(wall, resolve_timezone(self.tz))

    def _in_range(self, wall: dt.datetime) -> bool:
        return self.start <= wall and (self.end is None or wall < self.end)

    def _containing(self, instant: dt.datetime) -> dt.datetime | None:
        """The latest window start at or before ``instant``."""
        zone = resolve_timezone(self.tz)
        try:
            wall = self._floor(wall_clock(instant, zone) + repeated_span(instant, zone))
            while self._instant(wall) > instant:
                wall = self._step(wall, -1)
        except (OverflowError, ValueError):
            return None
        return wall

    def _last_complete_wall(self, now: dt.datetime) -> dt.datetime | None:
        wall = self._containing(now)
        if wall is None:
            return None
        if self.end is not None and wall >= self.end:
            wall = self.end
        try:
            wall = self._step(wall, -1)
            while wall >= self.start and self._instant(wall) == self._instant(self._step(wall)):
                wall = self._step(wall, -1)  # skipped entirely (a DST gap, a date line move)
        except (OverflowError, ValueError):
            return None
        return wall if wall >= self.start else None

    def _wall_of(self, key: str) -> dt.datetime:
        """The start of partition ``key``, checked: format, range, existence."""
        try:
            if not isinstance(key, str):
                raise ValueError(key)
            wall = self._parse(key)
        except ValueError:
            raise PartitionError(
                f"{key!r} is not a{'n' if self.unit == 'hourly' else ''} {self.unit} partition "
                f"key: write {self.key_format}, e.g. {self.example!r}") from None
        if wall < self.start:
            raise PartitionError(f"partition {key!r} is before the first partition, "
                                 f"{self._format(self.start)!r}",
                                 hint=f"the partitions are {self.describe()}")
        if self.end is not None and wall >= self.end:
            last = self._format(self._step(self.end, -1))
            raise PartitionError(f"partition {key!r} is after the last partition, {last!r}",
                                 hint=f"the partitions are {self.describe()}")
        if self._instant(wall) == self._instant(self._step(wall)):
            raise PartitionError(
                f"partition {key!r} does not exist in {self.tz}: the clocks skip that "
                f"{'hour' if self.unit == 'hourly' else 'time'} (daylight saving time)")
        return wall

    def _bound(self, value: object, what: str) -> dt.datetime:
        if isinstance(value, dt.datetime):
            wall = (wall_clock(value, resolve_timezone(self.tz)) if value.tzinfo is not None
                    else value)
        elif isinstance(value, dt.date):
            wall = dt.datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            wall = self._parse_bound(value, what)
        else:
            raise ValueError(f"{what} must be a date, a datetime or a string such as "
                             f"{self.example!r}, not {value!r}")
        floor = self._floor(wall)
        if floor != wall:
            raise ValueError(f"{what} '{value!s}' is not where a partition starts: "
                             f"{self.aligned}; write {what}={self._format(floor)!r}")
        return wall

    def _parse_bound(self, text: str, what: str) -> dt.datetime:
        try:
            return self._parse(text)
        except ValueError:
            pass
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{what} {text!r} is not a date; write {self.key_format}, e.g. "
                             f"{self.example!r}") from None
        if value.tzinfo is not None:
            return wall_clock(value, resolve_timezone(self.tz))
        return value


class HourlyPartitions(TimePartitions):
    """One partition per wall-clock hour: keys ``2026-11-20T13:00``."""

    __slots__ = ()
    kind = unit = "hourly"
    key_format = "YYYY-MM-DDTHH:00"
    example = "2026-11-20T13:00"
    aligned = "hourly partitions start on the hour"
    _pattern = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):00")

    def _floor(self, wall: dt.datetime) -> dt.datetime:
        return wall.replace(minute=0, second=0, microsecond=0)

    def _step(self, wall: dt.datetime, n: int = 1) -> dt.datetime:
        return wall + dt.timedelta(hours=n)

    def _format(self, wall: dt.datetime) -> str:
        return f"{wall:%Y-%m-%dT%H}:00"

    def _wall(self, *numbers: int) -> dt.datetime:
        year, month, day, hour = numbers
        return dt.datetime(year, month, day, hour)


class DailyPartitions(TimePartitions):
    """One partition per date, midnight to midnight: keys ``2026-11-20``."""

    __slots__ = ()
    kind = unit = "daily"
    key_format = "YYYY-MM-DD"
    example = "2026-11-20"
    aligned = "daily partitions start at midnight"
    _pattern = re.compile(r"(\d{4})-(\d{2})-(\d{2})")

    def _floor(self, wall: dt.datetime) -> dt.datetime:
        return wall.replace(hour=0, minute=0, second=0, microsecond=0)

    def _step(self, wall: dt.datetime, n: int = 1) -> dt.datetime:
        return wall + dt.timedelta(days=n)

    def _format(self, wall: dt.datetime) -> str:
        return f"{wall:%Y-%m-%d}"

    def _wall(self, *numbers: int) -> dt.datetime:
        year, month, day = numbers
        return dt.datetime(year, month, day)


class WeeklyPartitions(TimePartitions):
    """One partition per ISO week, Monday to Monday: keys ``2026-W47``."""

    __slots__ = ()
    kind = unit = "weekly"
    key_format = "YYYY-Www (an ISO week)"
    example = "2026-W47"
    aligned = "weekly partitions are ISO weeks and start on a Monday"
    _pattern = re.compile(r"(\d{4})-W(\d{2})")

    def _floor(self, wall: dt.datetime) -> dt.datetime:
        day = wall.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - dt.timedelta(days=day.weekday())

    def _step(self, wall: dt.datetime, n: int = 1) -> dt.datetime:
        return wall + dt.timedelta(weeks=n)

    def _format(self, wall: dt.datetime) -> str:
        year, week, _ = wall.isocalendar()
        return f"{year:04d}-W{week:02d}"

    def _wall(self, *numbers: int) -> dt.datetime:
        year, week = numbers
        day = dt.date.fromisocalendar(year, week, 1)
        return dt.datetime(day.year, day.month, day.day)


class MonthlyPartitions(TimePartitions):
    """One partition per month, the 1st to the 1st: keys ``2026-11``."""

    __slots__ = ()
    kind = unit = "monthly"
    key_format = "YYYY-MM"
    example = "2026-11"
    aligned = "monthly partitions start on the 1st of a month"
    _pattern = re.compile(r"(\d{4})-(\d{2})")

    def _floor(self, wall: dt.datetime) -> dt.datetime:
        return wall.replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    def _step(self, wall: dt.datetime, n: int = 1) -> dt.datetime:
        months = wall.year * 12 + wall.month - 1 + n
        return wall.replace(year=months // 12, month=months % 12 + 1)

    def _format(self, wall: dt.datetime) -> str:
        return f"{wall:%Y-%m}"

    def _wall(self, *numbers: int) -> dt.datetime:
        year, month = numbers
        return dt.datetime(year, month, 1)
