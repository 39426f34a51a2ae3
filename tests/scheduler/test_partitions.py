"""Partitions: keys, windows across DST, validation, lazy ranges, round trips."""

from __future__ import annotations

import datetime as dt
import itertools
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from timekit import utc

from legato.errors import DefinitionError, PartitionError
from legato.scheduler.partitions import StaticPartitions
from legato.scheduler.time_partitions import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    TimePartitions,
    WeeklyPartitions,
)

NOW = utc(2026, 11, 20, 13, 30)


def test_key_formats() -> None:
    assert list(HourlyPartitions("2026-11-20T11:00").keys(now=NOW)) == [
        "2026-11-20T11:00", "2026-11-20T12:00"]
    assert list(DailyPartitions("2026-11-17").keys(now=NOW)) == [
        "2026-11-17", "2026-11-18", "2026-11-19"]
    assert list(WeeklyPartitions("2026-W45").keys(now=NOW)) == ["2026-W45", "2026-W46"]
    assert list(MonthlyPartitions("2026-09").keys(now=NOW)) == ["2026-09", "2026-10"]


def test_windows() -> None:
    day = DailyPartitions("2026-01-01", tz="Europe/Berlin").window("2026-11-20")
    assert (day.start, day.end) == (utc(2026, 11, 19, 23), utc(2026, 11, 20, 23))
    assert day.local_start.isoformat() == "2026-11-20T00:00:00+01:00"
    assert utc(2026, 11, 20, 12) in day and utc(2026, 11, 20, 23) not in day
    week = WeeklyPartitions("2026-01-05").window("2026-W47")
    assert (week.start, week.end) == (utc(2026, 11, 16), utc(2026, 11, 23))
    month = MonthlyPartitions("2026-01").window("2026-02")
    assert month.duration == dt.timedelta(days=28)
    assert "2026-02-01T00:00:00+00:00 to 2026-03-01" in repr(month)


def test_days_are_23_and_25_hours_on_dst_days() -> None:
    berlin = DailyPartitions("2026-01-01", tz="Europe/Berlin")
    assert berlin.window("2026-03-29").duration == dt.timedelta(hours=23)
    assert berlin.window("2026-10-25").duration == dt.timedelta(hours=25)
    new_york = DailyPartitions("2026-01-01", tz="America/New_York")
    assert new_york.window("2026-03-08").duration == dt.timedelta(hours=23)
    assert new_york.window("2026-11-01").duration == dt.timedelta(hours=25)


def test_hourly_partitions_across_spring_forward_skip_the_missing_hour() -> None:
    hours = HourlyPartitions("2026-03-29", tz="Europe/Berlin")
    day = list(hours.keys("2026-03-29T00:00", "2026-03-29T23:00"))
    assert len(day) == 23 and "2026-03-29T02:00" not in day
    with pytest.raises(PartitionError, match="does not exist in Europe/Berlin: the clocks "
                       "skip that hour"):
        hours.validate("2026-03-29T02:00")
    assert hours.window("2026-03-29T01:00").duration == dt.timedelta(hours=1)


def test_hourly_partitions_across_fall_back_make_one_two_hour_partition() -> None:
    hours = HourlyPartitions("2026-11-01", tz="America/New_York")
    day = list(hours.keys("2026-11-01T00:00", "2026-11-01T23:00"))
    assert len(day) == 24 and len(set(day)) == 24
    repeated = hours.window("2026-11-01T01:00")
    assert (repeated.start, repeated.end) == (utc(2026, 11, 1, 5), utc(2026, 11, 1, 7))
    assert hours.key_for(utc(2026, 11, 1, 6, 30)) == "2026-11-01T01:00"  # second 01:30
    assert hours.key_for(utc(2026, 11, 1, 7)) == "2026-11-01T02:00"


def test_windows_tile_time() -> None:
    for parts in (HourlyPartitions("2026-03-28", tz="Europe/Berlin"),
                  DailyPartitions("2026-03-01", tz="America/New_York"),
                  WeeklyPartitions("2026-W01", tz="Australia/Lord_Howe"),
                  MonthlyPartitions("2026-01", tz="Pacific/Chatham")):
        keys = list(parts.keys(now=utc(2026, 11, 20)))
        windows = [parts.window(k) for k in keys]
        assert all(a.end == b.start for a, b in itertools.pairwise(windows)), parts
        assert all(parts.key_for(w.start) == k for k, w in zip(keys, windows, strict=True))


def test_key_for_and_last_complete() -> None:
    days = DailyPartitions("2026-01-01", tz="Europe/Berlin", end="2026-12-01")
    assert days.key_for(utc(2026, 11, 19, 23)) == "2026-11-20"
    assert days.key_for(utc(2025, 6, 1)) is None
    assert days.key_for(utc(2026, 12, 5)) is None
    assert days.last_complete(utc(2026, 11, 20, 2)) == "2026-11-19"
    assert days.last_complete(utc(2026, 11, 19, 23)) == "2026-11-19"  # midnight: just ended
    assert days.last_complete(utc(2027, 5, 1)) == "2026-11-30"
    assert days.last_complete(utc(2026, 1, 1, 12)) is None


def test_keys_between_two_keys_lazily_and_in_order() -> None:
    hours = HourlyPartitions("2015-01-01")
    tracemalloc.start()
    try:
        count = sum(1 for _ in hours.keys("2015-01-01T00:00", "2026-01-01T00:00"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 96433
    assert peak < 1_000_000  # one key at a time, never the list
    assert list(itertools.islice(hours.keys(), 2)) == ["2015-01-01T00:00", "2015-01-01T01:00"]


def test_open_ended_partitions_stop_at_the_last_ended_window() -> None:
    days = DailyPartitions("2026-11-18")
    assert list(days.keys(now=utc(2026, 11, 20, 0, 0))) == ["2026-11-18", "2026-11-19"]
    assert list(days.keys(now=utc(2026, 11, 18, 12))) == []
    assert list(days.keys("2026-11-19", now=utc(2026, 12, 1)))[-1] == "2026-11-30"


def test_end_is_the_first_partition_not_included() -> None:
    days = DailyPartitions("2026-01-01", end="2027-01-01")
    assert sum(1 for _ in days.keys("2026-01-01")) == 365
    with pytest.raises(PartitionError, match="'2027-01-01' is after the last partition, "
                       "'2026-12-31'"):
        days.validate("2027-01-01")


@pytest.mark.parametrize(("parts", "key", "message"), [
    (DailyPartitions("2026-01-01"), "2026-13-01", "'2026-13-01' is not a daily partition "
     "key: write YYYY-MM-DD, e.g. '2026-11-20'"),
    (DailyPartitions("2026-01-01"), "20260101", "is not a daily partition key"),
    (DailyPartitions("2026-01-01"), "2025-12-31", "'2025-12-31' is before the first "
     "partition, '2026-01-01'"),
    (HourlyPartitions("2026-01-01"), "2026-01-01T01:30", "is not an hourly partition key: "
     "write YYYY-MM-DDTHH:00"),
    (WeeklyPartitions("2026-W01"), "2026-W54", "is not a weekly partition key"),
    (WeeklyPartitions("2026-W01"), "2026-11-16", "write YYYY-Www"),
    (MonthlyPartitions("2026-01"), "2026-1", "is not a monthly partition key"),
    (MonthlyPartitions("2026-01"), 202601, "is not a monthly partition key"),
])
def test_bad_keys_name_the_format_or_the_range(parts: TimePartitions, key: str,
                                               message: str) -> None:
    with pytest.raises(PartitionError) as caught:
        parts.validate(key)
    assert message in str(caught.value)
    assert not parts.contains(key)


def test_a_partition_not_ended_yet_is_refused_when_now_is_given() -> None:
    days = DailyPartitions("2026-01-01")
    assert days.validate("2026-11-19", now=NOW) == "2026-11-19"
    with pytest.raises(PartitionError, match="'2026-11-20' has not ended yet"):
        days.validate("2026-11-20", now=NOW)


def test_a_reversed_range_is_an_error() -> None:
    with pytest.raises(PartitionError, match="in the wrong order: '2026-02-01' comes after "
                       "'2026-01-01'") as caught:
        list(DailyPartitions("2026-01-01").keys("2026-02-01", "2026-01-01"))
    assert caught.value.hint == "swap the two keys"


@pytest.mark.parametrize(("make", "message"), [
    (lambda: DailyPartitions("2026-02-01", end="2026-01-01"),
     "DailyPartitions: start '2026-02-01' is after end '2026-01-01', so there are no "
     "partitions"),
    (lambda: DailyPartitions("2026-01-01", end="2026-01-01"), "is equal to end"),
    (lambda: WeeklyPartitions("2026-01-01"), "weekly partitions are ISO weeks and start on a "
     "Monday; write start='2026-W01'"),
    (lambda: MonthlyPartitions("2026-01-15"), "start on the 1st of a month; write "
     "start='2026-01'"),
    (lambda: DailyPartitions("2026-01-01T05:00"), "start at midnight; write "
     "start='2026-01-01'"),
    (lambda: HourlyPartitions("2026-01-01T05:30"), "start on the hour"),
    (lambda: DailyPartitions("yesterday"), "start 'yesterday' is not a date"),
    (lambda: DailyPartitions(20260101), "start must be a date"),  # type: ignore[arg-type]
    (lambda: DailyPartitions("2026-01-01", tz="Europe/Berln"), "unknown timezone "
     "'Europe/Berln'; did you mean"),
    (lambda: StaticPartitions([]), "at least one key"),
    (lambda: StaticPartitions("eu"), "must be a list of strings"),
    (lambda: StaticPartitions(["eu", "eu"]), "key 'eu' appears twice"),
    (lambda: StaticPartitions(["eu", " us"]), "surrounding spaces, a comma"),
    (lambda: StaticPartitions(["eu", 1]), "non-empty strings"),  # type: ignore[list-item]
])
def test_bad_definitions_name_the_line(make: object, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        make()  # type: ignore[operator]
    assert message in str(caught.value)
    assert caught.value.problems[0].file == __file__


def test_start_and_end_forms() -> None:
    assert DailyPartitions(dt.date(2026, 1, 1)) == DailyPartitions("2026-01-01")
    assert DailyPartitions(dt.datetime(2026, 1, 1)) == DailyPartitions("2026-01-01T00:00")
    aware = dt.datetime(2025, 12, 31, 23, tzinfo=dt.UTC)
    assert DailyPartitions(aware, tz="Europe/Berlin") == DailyPartitions(
        "2026-01-01", tz="Europe/Berlin")
    assert WeeklyPartitions("2025-12-29") == WeeklyPartitions("2026-W01")
    assert MonthlyPartitions("2026-03-01") == MonthlyPartitions("2026-03")
    assert DailyPartitions("2026-01-01") != DailyPartitions("2026-01-01", tz="Europe/Berlin")
    assert repr(HourlyPartitions("2026-01-01", tz="Europe/Berlin", end="2026-02-01")) == (
        "HourlyPartitions(start='2026-01-01T00:00', tz='Europe/Berlin', "
        "end='2026-02-01T00:00')")
    assert DailyPartitions("2026-01-01").to_json() == {
        "kind": "daily", "start": "2026-01-01", "end": None, "tz": "UTC"}


def test_static_partitions() -> None:
    regions = StaticPartitions(["eu", "us", "apac"])
    assert list(regions.keys()) == ["eu", "us", "apac"]
    assert list(regions.keys("us")) == ["us", "apac"]
    assert regions.validate("us") == "us"
    with pytest.raises(PartitionError, match="'uss' is not one of the partitions; did you "
                       "mean 'us'") as caught:
        regions.validate("uss")
    assert caught.value.hint == "the partitions are 'eu', 'us', 'apac'"
    with pytest.raises(PartitionError, match="wrong order"):
        list(regions.keys("apac", "eu"))
    assert regions == StaticPartitions(["eu", "us", "apac"])
    assert regions.describe() == "static (3: eu, us, apac)"
    assert regions.to_json() == {"kind": "static", "keys": ["eu", "us", "apac"]}


# -- properties ------------------------------------------------------------------------

KINDS = [HourlyPartitions, DailyPartitions, WeeklyPartitions, MonthlyPartitions]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(KINDS), st.sampled_from(ZONES),
       st.datetimes(min_value=dt.datetime(1990, 1, 3), max_value=dt.datetime(2080, 1, 1),
                    timezones=st.just(dt.UTC)), st.integers(min_value=1, max_value=40))
def test_keys_round_trip_and_sort_in_time_order(kind: type[TimePartitions], zone: str,
                                                at: dt.datetime, count: int) -> None:
    parts = kind("1990-01-01" if kind is not WeeklyPartitions else "1990-W01", tz=zone)
    first = parts.key_for(at)
    assert first is not None
    keys = list(itertools.islice(parts.keys(first, now=utc(2100, 1, 1)), count))
    assert keys[0] == first
    assert keys == sorted(keys)  # strings sort as time does
    windows = [parts.window(k) for k in keys]
    assert at in windows[0]
    for key, window in zip(keys, windows, strict=True):
        assert parts.validate(key) == key
        assert parts.key_for(window.start) == key  # window -> key -> window
        assert parts.key_for(window.end - dt.timedelta(microseconds=1)) == key
        assert window.start < window.end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
