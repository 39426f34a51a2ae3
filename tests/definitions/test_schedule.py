"""Schedules as definitions: lg.cron / lg.every, schedule= on flows, lg.schedule for asset
selections, validation by Definitions, and evaluation as a trigger (time travel)."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest

import legato as lg
from legato.scheduler.ticks import Tick
from legato.scheduler.trigger import Trigger

UTC = dt.UTC


def line_of(marker: str) -> int:
    """The line of this file holding ``marker`` (for file:line assertions)."""
    lines = inspect.getsource(inspect.getmodule(line_of)).splitlines()  # type: ignore[arg-type]
    return next(i for i, text in enumerate(lines, 1) if marker in text and "line_of" not in text)


def test_flow_schedule_is_stored_and_named_after_the_flow() -> None:
    @lg.flow(schedule=lg.cron("0 3 * * *", tz="Europe/Berlin", params={"day": "today"}))
    def nightly(day: str) -> str:
        return day

    assert nightly.schedule == lg.cron("0 3 * * *", tz="Europe/Berlin", params={"day": "today"})
    defs = lg.Definitions(flows=[nightly])
    schedule = defs.schedules["nightly"]
    assert schedule.flow == "nightly" and schedule.trigger_key == "schedule:nightly"
    assert isinstance(schedule, Trigger)
    assert repr(defs) == "<Definitions 0 assets, 1 flows, 1 schedules>"


def test_cron_and_every_forms() -> None:
    spec = lg.cron("@daily", catch_up="all", catch_up_limit=7)
    assert spec.describe() == "cron '0 0 * * *' (UTC)"
    assert spec.catch_up == lg.cron("0 0 * * *", catch_up="all", catch_up_limit=7).catch_up
    assert repr(spec) == "lg.cron('0 0 * * *', tz='UTC')"
    interval = lg.every("15m", catch_up="none")
    assert repr(interval) == "lg.every('15m')"
    assert interval.describe() == "every 15m"
    anchored = lg.every(dt.timedelta(hours=1), anchor="2026-01-01T00:20:00Z")
    assert anchored.cadence.next_after(dt.datetime(2026, 5, 1, 9, tzinfo=UTC)) == dt.datetime(
        2026, 5, 1, 9, 20, tzinfo=UTC)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: lg.cron("61 * * * *"),
     "lg.cron: cron '61 * * * *': the minute field '61' is out of range: minutes are 0-59"),
    (lambda: lg.cron("0 3 * * *", tz="Europe/Berln"),
     "lg.cron: unknown timezone 'Europe/Berln'; did you mean"),
    (lambda: lg.cron("0 3 * * *", catch_up="never"), "catch_up must be one of"),  # type: ignore[arg-type]
    (lambda: lg.cron("0 3 * * *", params=["day"]), "params must be a dict"),  # type: ignore[arg-type]
    (lambda: lg.every("0s"), "lg.every: an interval must be a whole number of seconds"),
    (lambda: lg.every("15m", anchor="tomorrow"), "anchor 'tomorrow' is not an instant"),
    (lambda: lg.every("15m", anchor=dt.datetime(2026, 1, 1)), "has no timezone"),
])
def test_bad_specs_raise_at_the_line_that_wrote_them(make: object, message: str) -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        make()  # type: ignore[operator]
    assert message in str(caught.value)
    problem = caught.value.problems[0]
    assert problem.file == __file__


def test_a_bad_cron_on_a_flow_names_its_line() -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        @lg.flow(schedule=lg.cron("0 25 * * *"))  # the bad line
        def nightly() -> None: ...
    assert caught.value.problems[0].line == line_of("# the bad line")
    assert "the hour field '25' is out of range: hours are 0-23" in str(caught.value)


def test_schedule_must_be_a_spec_and_fit_the_flow() -> None:
    with pytest.raises(lg.DefinitionError, match=r"write schedule=lg.cron\('0 3 \* \* \*'\)"):
        @lg.flow(schedule="0 3 * * *")  # type: ignore[arg-type]
        def a() -> None: ...
    with pytest.raises(lg.DefinitionError, match=r"missing a required argument: 'day'; the "
                       r"scheduler fills only parameters named scheduled_at, "
                       r"data_interval_start, data_interval_end, ds .*: rename the parameter "
                       r"to one of these, give it a default, or pass params="):
        @lg.flow(schedule=lg.cron("0 3 * * *"))
        def b(day: str) -> None: ...
    with pytest.raises(lg.DefinitionError, match="unexpected keyword argument 'dya'"):
        @lg.flow(schedule=lg.cron("0 3 * * *", params={"dya": 1}))
        def c(day: str = "x") -> None: ...
    with pytest.raises(lg.DefinitionError, match="unknown option 'schedul'; did you mean "
                       "'schedule'"):
        @lg.flow(schedul=lg.cron("0 3 * * *"))  # type: ignore[call-overload]
        def d() -> None: ...


@lg.asset(partitions=lg.DailyPartitions(start="2026-01-01", tz="Europe/Berlin"))
def events() -> int:
    return 1


@lg.asset(partitions=lg.DailyPartitions(start="2026-01-01", tz="Europe/Berlin"))
def features(events: int) -> int:
    return events


@lg.asset
def model(features: int) -> int:
    return features


def test_asset_selection_schedule_runs_the_last_complete_partition() -> None:
    nightly = lg.schedule("*features", lg.cron("0 3 * * *", tz="Europe/Berlin"),
                          name="nightly_features")
    defs = lg.Definitions(assets=[events, features, model], schedules=[nightly])
    bound = defs.schedules["nightly_features"]
    assert bound.partitions == lg.DailyPartitions("2026-01-01", tz="Europe/Berlin")
    first = bound.evaluate(None, dt.datetime(2026, 11, 20, 1, 0, tzinfo=UTC))
    assert first.run_requests == () and first.cursor == "2026-11-20T01:00:00Z"
    later = bound.evaluate(first.cursor, dt.datetime(2026, 11, 20, 2, 0, 5, tzinfo=UTC))
    (request,) = later.run_requests
    assert request.selection == ("*features",) and request.flow is None
    assert request.partition_key == "2026-11-19"
    assert request.tick_key == "2026-11-20T02:00:00Z"
    assert request.run_key == "schedule:nightly_features@2026-11-20T02:00:00Z"
    assert later.cursor == "2026-11-20T02:00:00Z"
    assert bound.next_evaluation(later.cursor, dt.datetime(2026, 11, 20, 2, 0, 5,
                                                           tzinfo=UTC)) == dt.datetime(
        2026, 11, 21, 2, tzinfo=UTC)


def test_a_tick_before_any_partition_ended_requests_nothing() -> None:
    nightly = lg.schedule("events", lg.every("1h"), name="hourly_events")
    bound = lg.Definitions(assets=[events], schedules=[nightly]).schedules["hourly_events"]
    early = bound.evaluate("2026-01-01T00:00:00Z", dt.datetime(2026, 1, 1, 1, tzinfo=UTC))
    assert early.run_requests == ()


def test_evaluate_catches_up_and_reports_skipped_ticks() -> None:
    @lg.flow(schedule=lg.every("1h", catch_up="all", catch_up_limit=2))
    def hourly() -> None: ...

    bound = lg.Definitions(flows=[hourly]).schedules["hourly"]
    result = bound.evaluate("2026-01-01T00:00:00Z", dt.datetime(2026, 1, 1, 5, 30, tzinfo=UTC))
    assert [r.tick_key for r in result.run_requests] == ["2026-01-01T04:00:00Z",
                                                         "2026-01-01T05:00:00Z"]
    assert [r.flow for r in result.run_requests] == ["hourly", "hourly"]
    (skipped,) = result.skipped
    assert (skipped.first.key, skipped.last.key) == ("2026-01-01T01:00:00Z",
                                                     "2026-01-01T03:00:00Z")


def test_a_second_schedule_for_a_flow_with_other_params() -> None:
    @lg.flow(schedule=lg.cron("0 3 * * *"))
    def report(region: str = "eu") -> str:
        return region

    us = lg.schedule(report, lg.cron("0 9 * * *", tz="America/New_York",
                                     params={"region": "us"}), name="report_us")
    defs = lg.Definitions(flows=[report], schedules=[us])
    assert sorted(defs.schedules) == ["report", "report_us"]
    request = defs.schedules["report_us"].run_request(Tick(dt.datetime(2026, 1, 1, 14,
                                                                        tzinfo=UTC)))
    assert request is not None and request.params == {"region": "us"}


def test_schedules_are_collected_from_module_globals() -> None:
    nightly = lg.schedule(["model"], lg.cron("@daily"), name="nightly_model")
    defs = lg.Definitions.collect([events, features, model, nightly])
    assert list(defs.schedules) == ["nightly_model"]


@pytest.mark.parametrize(("make", "message"), [
    (lambda: lg.schedule("*model", lg.cron("@daily")), "a schedule of assets needs a name"),
    (lambda: lg.schedule("*model", "@daily", name="x"),  # type: ignore[arg-type]
     "must be lg.cron(...) or lg.every(...)"),
    (lambda: lg.schedule([], lg.cron("@daily"), name="x"), "the asset selection is empty"),
    (lambda: lg.schedule(42, lg.cron("@daily"), name="x"),  # type: ignore[arg-type]
     "a schedule runs a flow or an asset selection"),
    (lambda: lg.schedule("model", lg.cron("@daily"), name="bad name!"),
     "schedule name 'bad name!' is not valid"),
])
def test_bad_schedules_name_the_line(make: object, message: str) -> None:
    with pytest.raises(lg.DefinitionError) as caught:
        make()  # type: ignore[operator]
    assert message in str(caught.value)
    assert caught.value.problems[0].file == __file__


def test_definitions_check_schedules_against_what_they_run() -> None:
    @lg.flow(schedule=lg.cron("@daily"))
    def daily() -> None: ...

    orphan = lg.schedule(daily, lg.cron("@hourly"), name="orphan")
    typo = lg.schedule("*modle", lg.cron("@daily"), name="typo")
    twin = lg.schedule("model", lg.cron("@daily"), name="daily")
    with pytest.raises(lg.DefinitionError) as caught:
        lg.Definitions(assets=[events, features, model], schedules=[orphan, typo, twin])
    text = str(caught.value)
    assert "schedule 'orphan' runs flow 'daily', which is not in these definitions" in text
    assert "schedule 'typo': no asset named 'modle'; did you mean 'model'?" in text
    with pytest.raises(lg.DefinitionError, match="two schedules are named 'daily'"):
        lg.Definitions(flows=[daily], schedules=[twin])
    with pytest.raises(lg.DefinitionError, match="which is not a schedule"):
        lg.Definitions(schedules=["0 3 * * *"])  # type: ignore[list-item]


def test_a_selection_mixing_partitions_cannot_be_scheduled() -> None:
    @lg.asset(partitions=lg.HourlyPartitions(start="2026-01-01", tz="Europe/Berlin"))
    def clicks() -> int:
        return 1

    @lg.asset(partitions=lg.DailyPartitions(start="2026-01-01", tz="Europe/Berlin"))
    def daily_clicks(clicks: int) -> int:
        return clicks

    @lg.asset(partitions=lg.StaticPartitions(["eu", "us"]))
    def regions() -> int:
        return 1

    both = lg.schedule("*daily_clicks", lg.cron("@daily"), name="both")
    with pytest.raises(lg.DefinitionError, match="partitioned differently"):
        lg.Definitions(assets=[clicks, daily_clicks], schedules=[both])
    static = lg.schedule("regions", lg.cron("@daily"), name="static")
    with pytest.raises(lg.DefinitionError, match="static partitions, which have no time"):
        lg.Definitions(assets=[regions], schedules=[static])
