"""Helpers for time-travel tests: instants are built here, never read from the clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(tz: ZoneInfo, *args: int, fold: int = 0) -> dt.datetime:
    """A local wall time as an aware datetime (``fold=1``: the second of a repeated time)."""
    return dt.datetime(*args, tzinfo=tz, fold=fold)  # type: ignore[misc]


def shown(instants: list[dt.datetime], tz: ZoneInfo) -> list[str]:
    """Instants as the local clock shows them, with the zone's abbreviation."""
    return [i.astimezone(tz).strftime("%m-%d %H:%M %Z") for i in instants]
