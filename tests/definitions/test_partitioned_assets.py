"""Partitions on @lg.asset, and Definitions checking them against upstream partitions."""

from __future__ import annotations

import pytest

import legato as lg

DAILY = lg.DailyPartitions(start="2026-01-01", tz="Europe/Berlin")
HOURLY = lg.HourlyPartitions(start="2026-01-01", tz="Europe/Berlin")


def test_partitions_and_mappings_are_stored_on_the_definition() -> None:
    @lg.asset(partitions=HOURLY)
    def clicks() -> int:
        return 1

    @lg.asset(partitions=lg.StaticPartitions(["eu", "us"]), deps=[clicks],
              partition_mappings={clicks: lg.AllPartitionsMapping()})
    def per_region() -> int:
        return 2

    assert clicks.partitions == HOURLY and clicks.partition_mappings == ()
    assert per_region.partition_mappings == (("clicks", lg.AllPartitionsMapping()),)
    assert per_region.partition_mapping("clicks") == lg.AllPartitionsMapping()
    assert per_region.partition_mapping("other") is None
    defs = lg.Definitions(assets=[clicks, per_region])
    assert set(defs.assets) == {"clicks", "per_region"}


def test_hourly_upstream_of_daily_needs_no_mapping() -> None:
    @lg.asset(partitions=HOURLY)
    def clicks() -> int:
        return 1

    @lg.asset(partitions=DAILY)
    def daily_clicks(clicks: int) -> int:
        return clicks

    @lg.asset
    def report(daily_clicks: int) -> int:  # unpartitioned: reads every partition
        return daily_clicks

    lg.Definitions(assets=[clicks, daily_clicks, report])


def test_partitions_that_do_not_line_up_are_reported_at_the_downstream() -> None:
    @lg.asset(partitions=lg.DailyPartitions(start="2026-01-01"))
    def utc_days() -> int:
        return 1

    @lg.asset(partitions=DAILY)
    def berlin_days(utc_days: int) -> int:
        return utc_days

    with pytest.raises(lg.DefinitionError) as caught:
        lg.Definitions(assets=[utc_days, berlin_days])
    text = str(caught.value)
    assert "asset 'berlin_days' cannot use its upstream 'utc_days'" in text
    assert "partition_mappings={'utc_days': ...}" in text
    assert caught.value.problems[0].line == berlin_days.location.line


def test_a_downstream_starting_before_its_upstream_is_reported() -> None:
    @lg.asset(partitions=lg.DailyPartitions(start="2026-06-01", tz="Europe/Berlin"))
    def late() -> int:
        return 1

    @lg.asset(partitions=DAILY)
    def early(late: int) -> int:
        return late

    with pytest.raises(lg.DefinitionError, match="it starts before the upstream does"):
        lg.Definitions(assets=[late, early])


def test_static_lists_must_cover_the_downstream() -> None:
    @lg.asset(partitions=lg.StaticPartitions(["eu"]))
    def raw() -> int:
        return 1

    @lg.asset(partitions=lg.StaticPartitions(["eu", "us"]))
    def clean(raw: int) -> int:
        return raw

    with pytest.raises(lg.DefinitionError, match="its partitions 'us' are not partitions of "
                       "the upstream"):
        lg.Definitions(assets=[raw, clean])


def test_a_mapping_for_an_unpartitioned_upstream_is_reported() -> None:
    @lg.asset
    def lookup() -> int:
        return 1

    @lg.asset(partitions=DAILY, partition_mappings={"lookup": lg.TimeWindowMapping()})
    def enriched(lookup: int) -> int:
        return lookup

    with pytest.raises(lg.DefinitionError, match="the upstream is not partitioned, so a "
                       "partition mapping has no effect"):
        lg.Definitions(assets=[lookup, enriched])


@pytest.mark.parametrize(("options", "message"), [
    ({"partitions": "daily"}, "partitions must be lg.HourlyPartitions, lg.DailyPartitions"),
    ({"partitions": DAILY, "partition_mappings": {"evnts": lg.AllPartitionsMapping()}},
     "partition_mappings names 'evnts', which is not an upstream asset; did you mean "
     "'events'?"),
    ({"partitions": DAILY, "partition_mappings": {"events": "all"}},
     "partition_mappings['events'] must be lg.TimeWindowMapping()"),
    ({"partitions": DAILY, "partition_mappings": [("events", lg.AllPartitionsMapping())]},
     "partition_mappings must be a dict of upstream asset names"),
    ({"partitons": DAILY}, "unknown option 'partitons'; did you mean 'partitions'?"),
])
def test_bad_partition_options_name_the_asset_and_line(options: dict[str, object],
                                                       message: str) -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        @lg.asset(**options)  # type: ignore[call-overload]
        def features(events: int) -> int:
            return events
    assert message in str(caught.value)
    assert caught.value.problems[0].file == __file__
