"""Timezones, and the one rule that turns a local wall time into an instant.

**The rule.** A local wall time (``02:30`` on a date, in a timezone) stands for *the first
instant at which the clock in that timezone shows that time or later*:

- a time that happens once is that instant;
- a time the clocks skip (spring forward: ``02:30`` in Europe/Berlin on the last Sunday
  of March) is the first instant after the gap (``03:00`` CEST);
- a time the clocks show twice (fall back: ``02:30`` in Europe/Berlin on the last Sunday
  of October) is its first occurrence (``02:30`` CEST, not ``02:30`` CET).

Cron schedules fire at the wall times they name, by this rule, each instant once; the
windows of time partitions start and end at wall times, by the same rule. So a schedule
never fires twice for one wall time, and partition windows tile time with no gap and no
overlap. docs/schedules.md explains the choice and compares it with Airflow, Dagster and
Prefect.
"""

from __future__ import annotations

import datetime as dt
import difflib
import zoneinfo
from functools import lru_cache

UTC = dt.UTC
_MICROSECOND = dt.timedelta(microseconds=1)


def resolve_timezone(name: object) -> zoneinfo.ZoneInfo:
    """The IANA timezone ``name``; a ValueError suggesting close names when unknown."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"tz must be an IANA timezone name such as 'Europe/Berlin' or 'UTC', "
                         f"not {name!r}")
    try:
        return _zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    close = close_timezones(name)
    if len(close) == 1:
        suggestion = f"; did you mean {close[0]!r}?"
    elif close:
        suggestion = f"; did you mean one of {', '.join(repr(c) for c in close)}?"
    elif name.isalpha() and name.isupper() and len(name) <= 5:
        suggestion = ("; an abbreviation is not a timezone (it does not say when DST "
                      "applies): name a place, such as 'America/Los_Angeles' or 'Europe/Paris'")
    else:
        suggestion = "; use an IANA name such as 'Europe/Berlin', 'America/New_York' or 'UTC'"
    raise ValueError(f"unknown timezone {name!r}{suggestion}")


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    if name.startswith(("/", ".")) or name != name.strip():
        raise ValueError(name)
    return zoneinfo.ZoneInfo(name)


def close_timezones(name: str, limit: int = 3) -> list[str]:
    """Known timezone names close to ``name``: same name in another case, same city, or
    similar spelling. Reads the timezone database, so only call it on the error path."""
    known = sorted(zoneinfo.available_timezones())
    lowered = {k.lower(): k for k in known}
    wanted = name.strip().lower().replace(" ", "_")
    if wanted in lowered:
        return [lowered[wanted]]
    by_city = [k for k in known if k.lower().rsplit("/", 1)[-1] == wanted.rsplit("/", 1)[-1]]
    if by_city:
        return by_city[:limit]
    matches = difflib.get_close_matches(wanted, list(lowered), n=limit, cutoff=0.75)
    return [lowered[m] for m in matches]


def require_aware(instant: dt.datetime, what: str = "instant") -> dt.datetime:
    """``instant`` in UTC; a ValueError for a naive datetime (which instant would it be?)."""
    if not isinstance(instant, dt.datetime):
        raise TypeError(f"{what} must be a datetime, not {instant!r}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} {instant.isoformat()} has no timezone; pass an aware "
                         "datetime, e.g. datetime.now(timezone.utc)")
    return instant.astimezone(UTC)


def wall_clock(instant: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """What the clock in ``tz`` shows at ``instant``, as a naive datetime."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def repeated_span(instant: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.timedelta:
    """How far the clock was set back, when ``instant`` is in the second pass of a
    repeated span (fall back); zero otherwise. The clock has shown times up to
    ``wall_clock(instant) + repeated_span(instant)`` already."""
    local = instant.astimezone(tz)
    if not local.fold:
        return dt.timedelta(0)
    first, second = local.replace(fold=0).utcoffset(), local.utcoffset()
    if first is None or second is None or first <= second:
        return dt.timedelta(0)
    return first - second


def first_instant(wall: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant (UTC) at which the clock in ``tz`` shows ``wall`` or later."""
    earlier = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if wall_clock(earlier, tz) == wall:
        return earlier  # the wall time exists; fold=0 is its first occurrence
    # In a gap: fold=0 read the wall time with the offset before the jump, fold=1 with the
    # one after. The jump lies between the two instants; find its exact second.
    low = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    high = int(earlier.timestamp()) + 1
    before = dt.datetime.fromtimestamp(low, UTC).astimezone(tz).utcoffset()
    lo, hi = low, high
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if dt.datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return dt.datetime.fromtimestamp(hi, UTC)


def exists(wall: dt.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    """Whether the clock in ``tz`` ever shows ``wall`` (False inside a spring-forward gap)."""
    return wall_clock(wall.replace(tzinfo=tz, fold=0).astimezone(UTC), tz) == wall


def just_before(instant: dt.datetime) -> dt.datetime:
    return instant - _MICROSECOND


def tick_key(instant: dt.datetime) -> str:
    """The stable identity of a tick: its instant in UTC, ``2026-11-20T02:00:00Z``."""
    at = require_aware(instant)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{at.microsecond:06d}Z" if at.microsecond else f"{text}Z"


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 instant with an offset or ``Z`` (a tick key reads back), in UTC."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return require_aware(value, "time")
