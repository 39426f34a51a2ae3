"""Timezones by name (with suggestions), and the rule from a wall time to an instant."""

from __future__ import annotations

import datetime as dt

import pytest
from timekit import BERLIN, NEW_YORK, utc

from legato.scheduler.timezones import (
    exists,
    first_instant,
    parse_instant,
    repeated_span,
    require_aware,
    resolve_timezone,
    tick_key,
    wall_clock,
)


def test_known_names_resolve() -> None:
    assert resolve_timezone("Europe/Berlin").key == "Europe/Berlin"
    assert resolve_timezone("UTC").key == "UTC"


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("Europe/Berln", "'Europe/Berlin'"),
        ("europe/berlin", "did you mean 'Europe/Berlin'?"),
        ("Berlin", "did you mean 'Europe/Berlin'?"),
        ("america/new york", "did you mean 'America/New_York'?"),
        ("PST", "an abbreviation is not a timezone"),
        ("Mars/Olympus_Mons", "use an IANA name such as 'Europe/Berlin'"),
        ("../../etc/passwd", "use an IANA name"),
        ("/usr/share/zoneinfo/UTC", "unknown timezone"),
        (" UTC", "did you mean 'UTC'?"),
    ],
)
def test_unknown_names_suggest_close_ones(name: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match="unknown timezone") as caught:
        resolve_timezone(name)
    assert suggestion in str(caught.value)


@pytest.mark.parametrize("name", [None, 1, "", ["UTC"]])
def test_non_names_are_refused(name: object) -> None:
    with pytest.raises(ValueError, match="IANA timezone name"):
        resolve_timezone(name)


def test_a_time_that_happens_once_is_that_instant() -> None:
    assert first_instant(dt.datetime(2026, 7, 1, 2, 30), BERLIN) == utc(2026, 7, 1, 0, 30)


def test_a_skipped_time_is_the_first_instant_after_the_gap() -> None:
    # Berlin springs forward at 02:00 CET -> 03:00 CEST (01:00 UTC) on 2026-03-29.
    assert first_instant(dt.datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1)
    assert first_instant(dt.datetime(2026, 3, 29, 2, 0), BERLIN) == utc(2026, 3, 29, 1)
    assert first_instant(dt.datetime(2026, 3, 29, 3, 0), BERLIN) == utc(2026, 3, 29, 1)
    assert not exists(dt.datetime(2026, 3, 29, 2, 30), BERLIN)
    # New York: 02:00 EST -> 03:00 EDT (07:00 UTC) on 2026-03-08.
    assert first_instant(dt.datetime(2026, 3, 8, 2, 59), NEW_YORK) == utc(2026, 3, 8, 7)


def test_a_repeated_time_is_its_first_occurrence() -> None:
    # Berlin falls back at 03:00 CEST -> 02:00 CET (01:00 UTC) on 2026-10-25.
    assert first_instant(dt.datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    # New York: 02:00 EDT -> 01:00 EST (06:00 UTC) on 2026-11-01.
    assert first_instant(dt.datetime(2026, 11, 1, 1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert exists(dt.datetime(2026, 11, 1, 1, 30), NEW_YORK)


def test_a_skipped_day_is_the_next_one() -> None:
    """Samoa moved across the date line: 2011-12-30 never happened in Pacific/Apia."""
    apia = resolve_timezone("Pacific/Apia")
    assert first_instant(dt.datetime(2011, 12, 30, 12), apia) == first_instant(
        dt.datetime(2011, 12, 31), apia)


def test_repeated_span_is_only_set_on_the_second_pass() -> None:
    first, second = utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)
    assert wall_clock(first, BERLIN) == wall_clock(second, BERLIN) == dt.datetime(
        2026, 10, 25, 2, 30)
    assert repeated_span(first, BERLIN) == dt.timedelta(0)
    assert repeated_span(second, BERLIN) == dt.timedelta(hours=1)


def test_tick_keys_are_utc_iso_and_read_back() -> None:
    at = dt.datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN)
    assert tick_key(at) == "2026-03-29T01:00:00Z"
    assert parse_instant(tick_key(at)) == at
    assert tick_key(utc(2026, 1, 1, 0, 0, 0, 5)) == "2026-01-01T00:00:00.000005Z"
    assert parse_instant("2026-01-01T01:00:00+01:00") == utc(2026, 1, 1)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="has no timezone"):
        require_aware(dt.datetime(2026, 1, 1), "now")
    with pytest.raises(TypeError, match="must be a datetime"):
        require_aware("2026-01-01")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has no timezone"):
        parse_instant("2026-01-01T00:00:00")
