"""A scheduled run's logical time: its tick, its data interval (previous tick to this one)
and its logical date ``ds``; and the flow parameters the scheduler fills from them."""

from __future__ import annotations

import datetime as dt

import pytest
from timekit import BERLIN, local, utc

import legato as lg
from legato.errors import DefinitionError
from legato.scheduler.logical import LogicalTime, logical_time


def ingest(ds: str, data_interval_start: str, scheduled_at: str = "", limit: int = 10) -> str:
    return ds


def test_a_cron_tick_covers_the_time_since_the_previous_tick() -> None:
    spec = lg.cron("0 3 * * *", tz="Europe/Berlin")
    tick = local(BERLIN, 2026, 12, 3, 3, 0)
    logical = logical_time(spec.cadence, tick)
    assert logical.scheduled_at == tick.astimezone(dt.UTC)
    assert logical.data_interval == (local(BERLIN, 2026, 12, 2, 3, 0).astimezone(dt.UTC),
                                     tick.astimezone(dt.UTC))
    assert logical.ds == "2026-12-02"  # the interval's start, in the schedule's timezone
    assert LogicalTime.from_data(logical.to_data()) == logical


def test_an_interval_tick_covers_one_interval() -> None:
    logical = logical_time(lg.every("15m").cadence, utc(2026, 12, 3, 0, 0))
    assert logical.data_interval == (utc(2026, 12, 2, 23, 45), utc(2026, 12, 3, 0, 0))
    assert logical.ds == "2026-12-02"


def test_a_scheduled_flow_gets_the_parameters_it_declares() -> None:
    nightly = lg.flow(schedule=lg.cron("0 3 * * *", tz="Europe/Berlin",
                                       params={"scheduled_at": "given"}))(ingest)
    [schedule] = lg.Definitions(flows=[nightly]).schedules.values()
    evaluation = schedule.evaluate("2026-12-02T02:00:00Z", utc(2026, 12, 3, 2, 0))
    [request] = evaluation.run_requests
    assert request.params == {"ds": "2026-12-02", "data_interval_start": "2026-12-02T02:00:00Z",
                              "scheduled_at": "given"}  # what the schedule gives wins
    assert request.logical is not None
    assert request.logical.scheduled_at == utc(2026, 12, 3, 2, 0)


def test_lg_schedule_of_a_flow_fills_them_too() -> None:
    flow = lg.flow(ingest)
    schedule = lg.schedule(flow, lg.every("1h"), name="hourly_ingest")
    [request] = schedule.evaluate("2026-12-03T00:00:00Z", utc(2026, 12, 3, 1, 0)).run_requests
    assert set(request.params) == {"ds", "data_interval_start", "scheduled_at"}


def test_a_parameter_the_scheduler_cannot_fill_is_refused_naming_the_accepted_ones() -> None:
    def nightly_ingest(day: str) -> None: ...

    with pytest.raises(DefinitionError) as caught:
        lg.flow(schedule=lg.cron("0 3 * * *"))(nightly_ingest)
    text = str(caught.value)
    assert "'day'" in text
    assert "scheduled_at, data_interval_start, data_interval_end, ds" in text


def test_a_filled_parameter_must_be_a_string() -> None:
    def nightly_ingest(scheduled_at: dt.datetime) -> None: ...

    with pytest.raises(DefinitionError, match="'scheduled_at' is filled by the scheduler "
                       "with a string"):
        lg.flow(schedule=lg.cron("0 3 * * *"))(nightly_ingest)
