"""Ticks: the instants a cadence fires at, each with a stable key.

A tick's key is its instant in UTC (``2026-11-20T02:00:00Z``): the same tick always has
the same key, whichever scheduler process computes it, so the store can hold each
(trigger, tick) to at most one run with a unique key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from legato.scheduler.timezones import UTC, require_aware, tick_key


class Cadence(Protocol):
    """When a schedule fires: ``CronCadence`` or ``IntervalCadence``."""

    @property
    def tz(self) -> str:
        """The timezone its times are read in (and shown in)."""
        ...

    def describe(self) -> str: ...

    def iter_after(self, instant: dt.datetime) -> Iterator[dt.datetime]:
        """Fire times strictly after ``instant``, oldest first, in UTC."""
        ...

    def iter_at_or_before(self, instant: dt.datetime) -> Iterator[dt.datetime]:
        """Fire times at or before ``instant``, newest first, in UTC."""
        ...

    def next_after(self, instant: dt.datetime) -> dt.datetime | None: ...

    def latest_at_or_before(self, instant: dt.datetime) -> dt.datetime | None: ...

    def local(self, instant: dt.datetime) -> dt.datetime:
        """``instant`` in the cadence's timezone."""
        ...


@dataclass(frozen=True, slots=True, order=True)
class Tick:
    """One firing of a trigger: when (UTC), and its key."""

    at: dt.datetime

    @property
    def key(self) -> str:
        return tick_key(self.at)

    def __repr__(self) -> str:
        return f"Tick({self.key})"


def ticks_between(cadence: Cadence, after: dt.datetime, until: dt.datetime) -> Iterator[Tick]:
    """The ticks in ``(after, until]``, oldest first, lazily (a year of minutes is fine)."""
    end = require_aware(until, "until")
    for at in cadence.iter_after(require_aware(after, "after")):
        if at > end:
            return
        yield Tick(at.astimezone(UTC))


def next_ticks(cadence: Cadence, after: dt.datetime, count: int) -> list[Tick]:
    """The next ``count`` ticks strictly after ``after``."""
    found: list[Tick] = []
    if count <= 0:
        return found
    for at in cadence.iter_after(require_aware(after, "after")):
        found.append(Tick(at.astimezone(UTC)))
        if len(found) == count:
            break
    return found
