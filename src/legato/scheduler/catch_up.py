"""Catch-up: which ticks run now, as a pure function of the last tick handled and now.

A tick is **due** when it fell in ``(last, now]``. A due tick is **late** when it fell
more than ``grace`` before now (the scheduler was stopped, or far behind); the others are
**on time** and always run, so a scheduler a few seconds behind never drops a tick. The
policy decides what happens to late ticks:

- ``none``: late ticks are skipped;
- ``latest``: only the newest due tick runs (the default: after a night of downtime, one
  run catches the data up, not twelve);
- ``all``: late ticks run too, oldest first, up to ``limit`` of them (the newest); older
  ones are skipped.

The first time a schedule is seen (``last`` is None) nothing is due: its ticks start
after that instant. The result's ``cursor`` is what to pass as ``last`` next time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from legato.scheduler.ticks import Cadence, Tick, ticks_between
from legato.scheduler.timezones import UTC, just_before, require_aware

CatchUpPolicy = Literal["none", "latest", "all"]
POLICIES: tuple[CatchUpPolicy, ...] = ("none", "latest", "all")
DEFAULT_LIMIT = 100
DEFAULT_GRACE = dt.timedelta(seconds=60)
"""Ticks younger than this are on time; the scheduler loop may pass another grace."""


@dataclass(frozen=True, slots=True)
class CatchUp:
    """A catch-up policy: ``none``, ``latest`` or ``all`` (with at most ``limit`` late
    ticks run)."""

    policy: CatchUpPolicy = "latest"
    limit: int = DEFAULT_LIMIT

    def describe(self) -> str:
        return f"all (at most {self.limit})" if self.policy == "all" else self.policy


def check_catch_up(policy: object, limit: object) -> CatchUp:
    """The policy from ``catch_up=`` and ``catch_up_limit=``; a ValueError otherwise."""
    if policy not in POLICIES:
        raise ValueError(f"catch_up must be one of {', '.join(repr(p) for p in POLICIES)}, "
                         f"not {policy!r}")
    if limit is None:
        return CatchUp(policy, DEFAULT_LIMIT)
    if policy != "all":
        raise ValueError(f"catch_up_limit only applies to catch_up='all' (this schedule "
                         f"has catch_up={policy!r})")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"catch_up_limit must be a whole number >= 1, not {limit!r}")
    return CatchUp("all", limit)


@dataclass(frozen=True, slots=True)
class SkippedTicks:
    """Late ticks that were not run: from ``first`` to ``last``, both included."""

    first: Tick
    last: Tick
    reason: str


@dataclass(frozen=True, slots=True)
class DueTicks:
    """What to do now: the ticks to run (oldest first), the ones skipped, and the cursor
    to remember (every tick at or before it has been handled)."""

    run: tuple[Tick, ...]
    skipped: SkippedTicks | None
    cursor: dt.datetime


def due_ticks(cadence: Cadence, catch_up: CatchUp, last: dt.datetime | None,
              now: dt.datetime, *, grace: dt.timedelta = DEFAULT_GRACE) -> DueTicks:
    """The ticks of ``cadence`` to run at ``now``, given the last tick handled."""
    now = require_aware(now, "now")
    if last is None:
        return DueTicks((), None, now)
    last = require_aware(last, "last")
    newest = cadence.latest_at_or_before(now)
    if newest is None or newest <= last:
        return DueTicks((), None, last)  # nothing new (or the clock went backwards)
    boundary = now - grace
    on_time = tuple(ticks_between(cadence, max(last, boundary), now))
    first_late = cadence.next_after(last)
    if first_late is None or first_late > boundary:  # no late tick
        return DueTicks(on_time, None, newest)
    newest_late = cadence.latest_at_or_before(boundary)
    assert newest_late is not None
    late_run: list[dt.datetime] = []
    if catch_up.policy == "latest" and not on_time:
        late_run = [newest_late]
    elif catch_up.policy == "all":
        for at in cadence.iter_at_or_before(boundary):
            if at <= last or len(late_run) == catch_up.limit:
                break
            late_run.append(at)
        late_run.reverse()
    skipped = None
    skipped_until = just_before(late_run[0]) if late_run else boundary
    last_skipped = cadence.latest_at_or_before(skipped_until)
    if last_skipped is not None and last_skipped > last:
        reasons = {
            "none": "catch_up='none' skips ticks missed while the scheduler was not running",
            "latest": "catch_up='latest' runs only the newest missed tick",
            "all": f"catch_up='all' runs at most {catch_up.limit} missed ticks",
        }
        skipped = SkippedTicks(Tick(first_late.astimezone(UTC)),
                               Tick(last_skipped.astimezone(UTC)), reasons[catch_up.policy])
    run = tuple(Tick(at.astimezone(UTC)) for at in late_run) + on_time
    return DueTicks(run, skipped, newest)
