"""Interval cadences: elapsed time on a grid, whatever the timezone."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from timekit import BERLIN, utc

from legato.scheduler.interval import IntervalCadence, check_interval, describe_seconds


def test_fifteen_minutes_fire_on_the_quarter_hours() -> None:
    cadence = IntervalCadence(check_interval("15m"))
    got = list(itertools.islice(cadence.iter_after(utc(2026, 1, 1, 10, 7, 30)), 3))
    assert got == [utc(2026, 1, 1, 10, 15), utc(2026, 1, 1, 10, 30), utc(2026, 1, 1, 10, 45)]
    assert cadence.next_after(utc(2026, 1, 1, 10, 15)) == utc(2026, 1, 1, 10, 30)
    assert cadence.latest_at_or_before(utc(2026, 1, 1, 10, 15)) == utc(2026, 1, 1, 10, 15)
    assert cadence.describe() == "every 15m"


def test_an_anchor_shifts_the_grid() -> None:
    cadence = IntervalCadence(3600, utc(2026, 1, 1, 0, 20))
    assert cadence.next_after(utc(2026, 5, 1, 9, 0)) == utc(2026, 5, 1, 9, 20)
    assert cadence.latest_at_or_before(utc(2025, 1, 1, 0, 0)) == utc(2024, 12, 31, 23, 20)
    assert "from 2026-01-01T00:20:00+00:00" in cadence.describe()


def test_intervals_are_elapsed_time_across_dst() -> None:
    cadence = IntervalCadence(check_interval("1h"))
    got = list(itertools.islice(cadence.iter_after(utc(2026, 10, 24, 23, 30)), 4))
    assert [b - a for a, b in itertools.pairwise(got)] == [dt.timedelta(hours=1)] * 3
    assert [g.astimezone(BERLIN).strftime("%H:%M %Z") for g in got] == [
        "02:00 CEST", "02:00 CET", "03:00 CET", "04:00 CET"]  # both 02:00s: elapsed hours


@pytest.mark.parametrize(("given", "seconds"), [
    ("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), (900, 900), (2.0, 2),
    (dt.timedelta(minutes=5), 300)])
def test_interval_forms(given: object, seconds: int) -> None:
    assert check_interval(given) == seconds


@pytest.mark.parametrize(("given", "message"), [
    ("0s", "at least 1"), ("500ms", "whole number of seconds"), (1.5, "whole number"),
    ("soon", "is not a duration"), (True, "is a duration such as"), (None, "is a duration"),
    (-5, "must not be negative"), (dt.timedelta(0), "at least 1")])
def test_bad_intervals(given: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_interval(given)


def test_describe_uses_the_largest_whole_unit() -> None:
    assert [describe_seconds(s) for s in (45, 90, 600, 7200, 86400, 604800)] == [
        "45s", "90s", "10m", "2h", "1d", "1w"]
