"""Partition mappings: which upstream partitions a downstream partition uses."""

from __future__ import annotations

import pytest

from legato.errors import PartitionError
from legato.scheduler.mapping import (
    AllPartitionsMapping,
    SameKeyMapping,
    TimeWindowMapping,
    check_mapping,
    default_mapping,
)
from legato.scheduler.partitions import StaticPartitions
from legato.scheduler.time_partitions import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    WeeklyPartitions,
)

HOURS = HourlyPartitions("2026-01-01", tz="Europe/Berlin")
DAYS = DailyPartitions("2026-01-01", tz="Europe/Berlin")
WINDOW = TimeWindowMapping()


def test_same_window_maps_a_key_to_itself() -> None:
    assert list(WINDOW.upstream_keys("2026-11-20", DAYS, DAYS)) == ["2026-11-20"]


def test_hourly_to_daily_is_the_days_hours() -> None:
    hours = list(WINDOW.upstream_keys("2026-11-20", DAYS, HOURS))
    assert hours[0] == "2026-11-20T00:00" and hours[-1] == "2026-11-20T23:00"
    assert len(hours) == 24
    assert len(list(WINDOW.upstream_keys("2026-03-29", DAYS, HOURS))) == 23
    assert len(list(WINDOW.upstream_keys("2026-10-25", DAYS, HOURS))) == 24  # 02:00 is 2 h


def test_daily_to_hourly_is_the_day_holding_the_hour() -> None:
    assert list(WINDOW.upstream_keys("2026-11-20T13:00", HOURS, DAYS)) == ["2026-11-20"]
    assert list(WINDOW.downstream_keys("2026-11-20T13:00", HOURS, DAYS)) == ["2026-11-20"]
    assert len(list(WINDOW.downstream_keys("2026-11-20", DAYS, HOURS))) == 24


def test_weeks_overlapping_a_month() -> None:
    weeks, months = WeeklyPartitions("2025-12-29"), MonthlyPartitions("2026-01")
    assert list(WINDOW.upstream_keys("2026-02", months, weeks)) == [
        "2026-W05", "2026-W06", "2026-W07", "2026-W08", "2026-W09"]


def test_windows_outside_the_upstream_map_to_nothing() -> None:
    late = DailyPartitions("2026-06-01", tz="Europe/Berlin", end="2026-07-01")
    assert list(WINDOW.upstream_keys("2026-01-15", DAYS, late)) == []
    assert list(WINDOW.upstream_keys("2026-08-15", DAYS, late)) == []


def test_same_key_and_all() -> None:
    regions = StaticPartitions(["eu", "us"])
    more = StaticPartitions(["eu", "us", "apac"])
    assert list(SameKeyMapping().upstream_keys("us", regions, more)) == ["us"]
    assert list(SameKeyMapping().downstream_keys("apac", more, regions)) == []
    assert list(AllPartitionsMapping().upstream_keys("eu", regions, more)) == [
        "eu", "us", "apac"]
    assert list(AllPartitionsMapping().downstream_keys("apac", more, regions)) == ["eu", "us"]
    with pytest.raises(PartitionError, match="'xx' is not one of the partitions"):
        list(SameKeyMapping().upstream_keys("xx", regions, more))


def test_time_window_mapping_refuses_static_partitions() -> None:
    with pytest.raises(PartitionError, match="maps time partitions only"):
        list(WINDOW.upstream_keys("eu", StaticPartitions(["eu"]), DAYS))


def test_defaults() -> None:
    assert default_mapping(DAYS, HOURS) == TimeWindowMapping()
    assert default_mapping(StaticPartitions(["a"]), StaticPartitions(["a"])) == SameKeyMapping()
    assert default_mapping(DAYS, DailyPartitions("2026-01-01")) is None  # other timezone
    assert default_mapping(MonthlyPartitions("2026-01"), WeeklyPartitions("2026-W01")) is None
    assert default_mapping(DAYS, StaticPartitions(["a"])) is None


@pytest.mark.parametrize(("downstream", "upstream", "mapping", "message"), [
    (DAYS, DailyPartitions("2026-01-01"), None, "do not line up with the upstream's"),
    (MonthlyPartitions("2026-01"), WeeklyPartitions("2026-W01"), None,
     "lg.TimeWindowMapping() (overlapping windows)"),
    (DAYS, StaticPartitions(["eu"]), None, "say how they match with partition_mappings="
     "{'up': ...}: lg.AllPartitionsMapping()"),
    (DailyPartitions("2025-01-01", tz="Europe/Berlin"), DAYS, None, "it starts before the "
     "upstream does"),
    (DAYS, DailyPartitions("2026-01-01", tz="Europe/Berlin", end="2027-01-01"), None,
     "it goes on after the upstream ends"),
    (StaticPartitions(["eu", "us"]), StaticPartitions(["eu"]), None,
     "its partitions 'us' are not partitions of the upstream"),
    (DAYS, HOURS, SameKeyMapping(), "needs keys of one kind, but these are daily and hourly"),
    (StaticPartitions(["eu"]), DAYS, SameKeyMapping(), "needs two static lists"),
    (StaticPartitions(["eu"]), DAYS, TimeWindowMapping(), "maps time partitions only"),
    (None, DAYS, SameKeyMapping(), "the asset is not partitioned, so it uses every upstream "
     "partition"),
    (DAYS, None, AllPartitionsMapping(), "the upstream is not partitioned"),
])
def test_mismatches_are_explained(downstream: object, upstream: object, mapping: object,
                                  message: str) -> None:
    why = check_mapping(downstream, upstream, mapping, upstream_name="up")  # type: ignore[arg-type]
    assert why is not None and message in why


@pytest.mark.parametrize(("downstream", "upstream", "mapping"), [
    (DAYS, HOURS, None),
    (HOURS, DAYS, None),
    (DailyPartitions("2026-01-02", tz="Europe/Berlin"), DailyPartitions("2026-01-01"),
     TimeWindowMapping()),  # partial overlaps, on purpose
    (DAYS, StaticPartitions(["eu"]), AllPartitionsMapping()),
    (None, DAYS, None),
    (DAYS, None, None),
    (None, None, None),
    (None, DAYS, AllPartitionsMapping()),
    (DailyPartitions("2026-01-01"), DailyPartitions("2025-12-01", tz="Europe/Berlin"),
     SameKeyMapping()),
])
def test_compatible_pairs(downstream: object, upstream: object, mapping: object) -> None:
    assert check_mapping(downstream, upstream, mapping) is None  # type: ignore[arg-type]
