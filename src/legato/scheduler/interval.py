"""Interval cadences: every N seconds of elapsed time, on a grid through an anchor.

``lg.every("15m")`` fires at :00, :15, :30 and :45 of every hour (the grid passes through
the Unix epoch), whatever the timezone and across DST changes: an interval is elapsed
time, not wall time. For "every day at 03:00 local time", use a cron schedule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from legato.definitions.options import parse_duration
from legato.scheduler.timezones import UTC, require_aware

EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MICROS = 1_000_000


def check_interval(every: object) -> int:
    """Whole seconds from ``900``, ``"15m"``, ``"1h"``, ``timedelta(minutes=15)``."""
    if isinstance(every, dt.timedelta):
        seconds = every.total_seconds()
    else:
        if not isinstance(every, int | float | str) or isinstance(every, bool):
            raise ValueError(f"an interval is a duration such as '15m', '1h' or 900 "
                             f"(seconds), not {every!r}")
        parsed = parse_duration(every, what="interval")
        assert parsed is not None
        seconds = parsed
    if seconds < 1 or seconds != int(seconds):
        raise ValueError(f"an interval must be a whole number of seconds, at least 1 "
                         f"(got {every!r})")
    return int(seconds)


def describe_seconds(seconds: int) -> str:
    """``15m``, ``1h``, ``90s``, ``1d``: the largest unit that divides evenly."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class IntervalCadence:
    """Fires every ``seconds`` seconds, at ``anchor + k * seconds`` for every whole k."""

    seconds: int
    anchor: dt.datetime = EPOCH

    @property
    def tz(self) -> str:
        """Intervals are elapsed time; their ticks are shown in UTC."""
        return "UTC"

    def describe(self) -> str:
        if self.anchor == EPOCH:
            return f"every {describe_seconds(self.seconds)}"
        return f"every {describe_seconds(self.seconds)} from {self.anchor.isoformat()}"

    def _at(self, k: int) -> dt.datetime:
        return self.anchor + dt.timedelta(seconds=k * self.seconds)

    def _index(self, instant: dt.datetime) -> int:
        """The k of the last grid point at or before ``instant``."""
        elapsed = require_aware(instant) - self.anchor
        micros = (elapsed.days * 86400 + elapsed.seconds) * _MICROS + elapsed.microseconds
        return micros // (self.seconds * _MICROS)

    def iter_after(self, instant: dt.datetime) -> Iterator[dt.datetime]:
        k = self._index(instant) + 1
        while True:
            try:
                yield self._at(k)
            except OverflowError:
                return
            k += 1

    def iter_at_or_before(self, instant: dt.datetime) -> Iterator[dt.datetime]:
        k = self._index(instant)
        while True:
            try:
                yield self._at(k)
            except OverflowError:
                return
            k -= 1

    def next_after(self, instant: dt.datetime) -> dt.datetime | None:
        return next(self.iter_after(instant), None)

    def latest_at_or_before(self, instant: dt.datetime) -> dt.datetime | None:
        return next(self.iter_at_or_before(instant), None)

    def local(self, instant: dt.datetime) -> dt.datetime:
        return instant.astimezone(UTC)
