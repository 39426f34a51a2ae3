"""A run a schedule started sees its tick and data interval: as ``ctx.scheduled_at`` and
``ctx.data_interval`` in its steps, and as the flow parameters it declares; the same once
resumed. The scheduler runs on an injected clock."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any
from zoneinfo import ZoneInfo

import cloudpickle
import pytest
from scheduler_kit import Clock, queued_runs, scheduler

import legato as lg
from legato.engine.resume import execute_claimed
from legato.engine.runner import Runner
from legato.settings import Settings
from legato.store.queue import claim
from legato.store.sql_store import SqlStore

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@lg.task
def when(ctx: lg.StepContext) -> dict[str, Any]:
    start, end = ctx.data_interval or (None, None)
    return {"scheduled_at": ctx.scheduled_at and ctx.scheduled_at.isoformat(),
            "start": start and start.isoformat(), "end": end and end.isoformat(),
            "aware": ctx.scheduled_at is not None and ctx.scheduled_at.utcoffset() is not None}


@lg.flow(schedule=lg.cron("0 3 * * *", tz="Europe/Berlin"))
def nightly_ingest(ds: str, data_interval_end: str) -> dict[str, Any]:
    return {"ds": ds, "end_param": data_interval_end, **when()}


DEFS = lg.Definitions(flows=[nightly_ingest])
TICK = dt.datetime(2026, 12, 3, 3, 0, tzinfo=ZoneInfo("Europe/Berlin"))
EXPECTED = {"ds": "2026-12-02", "end_param": "2026-12-03T02:00:00Z",
            "scheduled_at": "2026-12-03T02:00:00+00:00", "start": "2026-12-02T02:00:00+00:00",
            "end": "2026-12-03T02:00:00+00:00", "aware": True}


def queue_one_tick(settings: Settings) -> str:
    clock = Clock(TICK - dt.timedelta(minutes=30))
    with scheduler(settings, DEFS, clock) as s:
        s.tick()  # first seen: the ticks after now count
        clock.advance(minutes=30)
        assert s.tick().requested == 1
    with SqlStore(settings.store_url) as store:
        [run] = queued_runs(store)
    return run.run_id


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_a_scheduled_run_sees_its_tick_and_data_interval(executor: str,
                                                         make_settings: Any) -> None:
    settings = make_settings(executor=executor, max_parallel=2)
    run_id = queue_one_tick(settings)
    with SqlStore(settings.store_url) as store:
        [run] = claim(store, "test-worker", settings.lease_ttl)
    assert run.run_id == run_id
    result = execute_claimed(Runner(settings), run, definitions=DEFS)
    assert result.status == "succeeded", result.error
    assert result.output == EXPECTED


def test_a_resumed_scheduled_run_sees_the_same_values(make_settings: Any) -> None:
    """Claimed, then left (its holder stopped renewing the lease): the run that takes it
    over reads the tick recorded with the queued run, not the clock."""
    settings = make_settings(executor="threads")
    run_id = queue_one_tick(settings)
    with SqlStore(settings.store_url) as store:
        claim(store, "gone-worker", 0.2)
    time.sleep(0.3)
    result = Runner(settings).resume(run_id, definitions=DEFS, wait=True)
    assert result.status == "succeeded", result.error
    assert result.output == EXPECTED


def test_an_unscheduled_run_has_none(make_settings: Any) -> None:
    result = lg.run(nightly_ingest, settings=make_settings(executor="inline"),
                    ds="2026-01-01", data_interval_end="x")
    assert result.output == {"ds": "2026-01-01", "end_param": "x", "scheduled_at": None,
                             "start": None, "end": None, "aware": False}
