"""Cron cadences: field checks, and fire times across DST changes (time travel, no clock)."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from timekit import BERLIN, NEW_YORK, shown, utc

from legato.scheduler.cron import CronCadence, check_cron
from legato.scheduler.timezones import resolve_timezone


def fires(cadence: CronCadence, after: dt.datetime, count: int) -> list[dt.datetime]:
    return list(itertools.islice(cadence.iter_after(after), count))


# -- checking expressions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "the minute field '61' is out of range: minutes are 0-59"),
        ("* 24 * * *", "the hour field '24' is out of range: hours are 0-23"),
        ("0 0 0 * *", "the day-of-month field '0' is out of range: days of the month are 1-31"),
        ("0 0 1 13 *", "the month field '13' is out of range: months are 1-12"),
        ("0 0 * * 8", "the day-of-week field '8' is out of range"),
        ("*/0 * * * *", "the minute field '*/0' has a step of 0"),
        ("1,,2 * * * *", "the minute field '1,,2' has an empty item"),
        ("a * * * *", "the minute field 'a' is not valid: write numbers 0-59"),
        ("0 0 * foo *", "the month field 'foo' is not valid: 'foo' is not a name"),
        ("0 0 * * funday", "the day-of-week field 'funday' is not valid"),
        ("0 3 * *", "has 4 fields; write five: minute hour day-of-month month day-of-week"),
        ("0 0 3 * * *", "has 6 fields"),
        ("", "has 0 fields"),
        ("@fortnightly", "unknown shorthand"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
        ("0 0 1-5 * * ^", "has 6 fields"),
        ("0 0 15% * *", "the day-of-month field '15%' is not valid"),
    ],
)
def test_bad_expressions_name_the_field_and_the_rule(expression: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_cron(expression)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"cron {expression!r}")


@pytest.mark.parametrize(
    ("expression", "expanded"),
    [
        ("@daily", "0 0 * * *"),
        ("@HOURLY", "0 * * * *"),
        ("@weekly", "0 0 * * 0"),
        ("  0   3 * *  *  ", "0 3 * * *"),
        ("0 3 * * mon-fri", "0 3 * * mon-fri"),
        ("0 0 29 2 *", "0 0 29 2 *"),  # leap years only: fires, rarely
        ("0 0 L * *", "0 0 L * *"),  # croniter's extensions pass to croniter
        ("0 0 * * 5#3", "0 0 * * 5#3"),
        ("0 22-2 * * *", "0 22-2 * * *"),  # wraps around midnight
    ],
)
def test_good_expressions(expression: str, expanded: str) -> None:
    assert check_cron(expression) == expanded


def test_non_strings_are_refused() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        check_cron(3)


def test_checking_a_plain_expression_does_not_import_croniter() -> None:
    script = ("import sys\nimport legato as lg\nlg.cron('*/15 3-5 1,15 jan-jun mon-fri', "
              "tz='Europe/Berlin')\nassert 'croniter' not in sys.modules, 'croniter loaded'\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr


# -- fire times across DST -------------------------------------------------------------


def test_daily_0230_in_berlin_spring_forward_fires_once_at_0300() -> None:
    cadence = CronCadence("30 2 * * *", "Europe/Berlin")
    assert shown(fires(cadence, utc(2026, 3, 27), 4), BERLIN) == [
        "03-27 02:30 CET", "03-28 02:30 CET", "03-29 03:00 CEST", "03-30 02:30 CEST"]


def test_daily_0230_in_berlin_fall_back_fires_once_at_the_first_0230() -> None:
    cadence = CronCadence("30 2 * * *", "Europe/Berlin")
    got = fires(cadence, utc(2026, 10, 24), 3)
    assert shown(got, BERLIN) == ["10-24 02:30 CEST", "10-25 02:30 CEST", "10-26 02:30 CET"]
    assert got[1] == utc(2026, 10, 25, 0, 30)  # not 01:30 UTC, the second 02:30


def test_daily_midnight_is_unaffected_in_both_zones() -> None:
    for zone, spring, fall in (("Europe/Berlin", (3, 29), (10, 25)),
                               ("America/New_York", (3, 8), (11, 1))):
        tz = resolve_timezone(zone)
        cadence = CronCadence("0 0 * * *", zone)
        for month, day in (spring, fall):
            midnight = dt.datetime(2026, month, day, tzinfo=tz)
            got = fires(cadence, midnight - dt.timedelta(hours=12), 2)
            assert [g.astimezone(tz).strftime("%d %H:%M") for g in got] == [
                f"{day:02d} 00:00", f"{day + 1:02d} 00:00"]


def test_new_york_0230_and_0130() -> None:
    spring = CronCadence("30 2 * * *", "America/New_York")
    assert shown(fires(spring, utc(2026, 3, 7, 12), 2), NEW_YORK) == [
        "03-08 03:00 EDT", "03-09 02:30 EDT"]
    fall = CronCadence("30 1 * * *", "America/New_York")
    assert shown(fires(fall, utc(2026, 10, 31, 12), 2), NEW_YORK) == [
        "11-01 01:30 EDT", "11-02 01:30 EST"]


def test_hourly_in_berlin_across_spring_forward() -> None:
    cadence = CronCadence("0 * * * *", "Europe/Berlin")
    got = fires(cadence, utc(2026, 3, 28, 23, 30), 4)
    assert shown(got, BERLIN) == [
        "03-29 01:00 CET", "03-29 03:00 CEST", "03-29 04:00 CEST", "03-29 05:00 CEST"]
    assert [b - a for a, b in itertools.pairwise(got)] == [dt.timedelta(hours=1)] * 3
    day = fires(cadence, utc(2026, 3, 28, 22, 59), 24)  # from 00:00 CET on the 29th
    dates = [t.astimezone(BERLIN).date() for t in day]
    assert dates.count(dt.date(2026, 3, 29)) == 23  # a day of 23 hours fires 23 times


def test_hourly_at_half_past_runs_the_skipped_half_hour_at_0300() -> None:
    cadence = CronCadence("30 * * * *", "Europe/Berlin")
    assert shown(fires(cadence, utc(2026, 3, 29, 0), 3), BERLIN) == [
        "03-29 01:30 CET", "03-29 03:00 CEST", "03-29 03:30 CEST"]


def test_hourly_in_berlin_across_fall_back_fires_once_per_wall_hour() -> None:
    cadence = CronCadence("0 * * * *", "Europe/Berlin")
    got = fires(cadence, utc(2026, 10, 24, 22, 30), 4)
    assert shown(got, BERLIN) == [
        "10-25 01:00 CEST", "10-25 02:00 CEST", "10-25 03:00 CET", "10-25 04:00 CET"]
    assert got[2] - got[1] == dt.timedelta(hours=2)  # the repeated 02:00 does not fire again


def test_hourly_in_new_york_across_both_changes() -> None:
    cadence = CronCadence("0 * * * *", "America/New_York")
    assert shown(fires(cadence, utc(2026, 3, 8, 5, 30), 3), NEW_YORK) == [
        "03-08 01:00 EST", "03-08 03:00 EDT", "03-08 04:00 EDT"]
    assert shown(fires(cadence, utc(2026, 11, 1, 4, 30), 3), NEW_YORK) == [
        "11-01 01:00 EDT", "11-01 02:00 EST", "11-01 03:00 EST"]


def test_starting_inside_the_repeated_hour() -> None:
    """At 02:10 CET (the second pass), 02:30 has fired already (as CEST): next is 03:30."""
    cadence = CronCadence("30 * * * *", "Europe/Berlin")
    second_pass = utc(2026, 10, 25, 1, 10)
    assert shown([cadence.next_after(second_pass)], BERLIN) == ["10-25 03:30 CET"]  # type: ignore[list-item]
    assert cadence.latest_at_or_before(second_pass) == utc(2026, 10, 25, 0, 30)


def test_latest_at_or_before_includes_the_instant_itself() -> None:
    cadence = CronCadence("0 3 * * *", "Europe/Berlin")
    fired = utc(2026, 3, 29, 1)
    assert cadence.latest_at_or_before(fired) == fired
    assert cadence.latest_at_or_before(fired - dt.timedelta(seconds=1)) == utc(2026, 3, 28, 2)
    assert cadence.next_after(fired) == utc(2026, 3, 30, 1)


def test_expression_matching_rarely() -> None:
    cadence = CronCadence(check_cron("0 0 29 2 *"), "UTC")
    assert fires(cadence, utc(2026, 1, 1), 2) == [utc(2028, 2, 29), utc(2032, 2, 29)]


# -- properties ------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/Sao_Paulo", "Pacific/Chatham"]
EXPRESSIONS = ["0 * * * *", "30 * * * *", "*/20 * * * *", "30 2 * * *", "0 0 * * *",
               "15 1,2,3 * * *", "0 2 * * 0", "45 23 L * *", "0 0 1 * *", "5 4 * * mon-fri"]
instants = st.datetimes(min_value=dt.datetime(1995, 1, 1), max_value=dt.datetime(2060, 1, 1),
                        timezones=st.just(dt.UTC))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.sampled_from(ZONES), instants)
def test_fire_times_increase_match_the_fields_and_never_repeat_a_wall_time(
        expression: str, zone: str, start: dt.datetime) -> None:
    from croniter import croniter

    tz = resolve_timezone(zone)
    cadence = CronCadence(expression, zone)
    got = fires(cadence, start, 12)
    assert got and got[0] > start
    assert all(a < b for a, b in itertools.pairwise(got))
    walls = [g.astimezone(tz).replace(tzinfo=None, fold=0) for g in got]
    assert len(set(walls)) == len(walls)  # never twice for one wall time (fall back)
    for at, wall in zip(got, walls, strict=True):
        # It fires at a matching wall time, or just after a gap that swallowed one.
        if not croniter.match(expression, wall):
            just_before = (at - dt.timedelta(seconds=1)).astimezone(tz)
            assert just_before.utcoffset() != at.astimezone(tz).utcoffset(), (expression, at)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.sampled_from(ZONES), instants)
def test_next_and_latest_agree(expression: str, zone: str, start: dt.datetime) -> None:
    cadence = CronCadence(expression, zone)
    following = cadence.next_after(start)
    assert following is not None
    assert cadence.latest_at_or_before(following) == following
    previous = cadence.latest_at_or_before(following - dt.timedelta(microseconds=1))
    assert previous is not None and previous <= start < following
