"""The trigger and backfill services, on SQLite and PostgreSQL: listing with next ticks
and state, pausing by name or key, and a backfill started, read, driven and canceled."""

from __future__ import annotations

import datetime as dt

import pytest

from legato.definitions.definitions import Definitions
from legato.errors import BackfillNotFoundError, LegatoError, PartitionError
from legato.services import backfills, triggers
from legato.services.views.triggers import CatchUpView, TriggerStateView
from legato.settings import Settings

AFTER = dt.datetime(2026, 3, 28, tzinfo=dt.UTC)


def test_triggers_list_with_next_ticks_and_pause_by_name_or_key(on_backend: Settings,
                                                                defs: Definitions) -> None:
    (schedule,) = triggers.list_triggers(on_backend, defs, now=AFTER, count=2)
    assert (schedule.name, schedule.kind, schedule.trigger_key) == (
        "adder", "schedule", "schedule:adder")
    assert (schedule.flow, schedule.selection, schedule.cron, schedule.timezone) == (
        "adder", (), "0 3 * * *", "Europe/Berlin")
    assert schedule.catch_up == CatchUpView(policy="latest", limit=None)
    assert [t.tick_key for t in schedule.next] == ["2026-03-28T02:00:00Z",
                                                   "2026-03-29T01:00:00Z"]  # DST in between
    assert not schedule.paused and schedule.last_tick is None
    assert triggers.set_paused(on_backend, "adder", True, definitions=defs) == \
        TriggerStateView(trigger_key="schedule:adder", paused=True)
    assert triggers.list_triggers(on_backend, defs, now=AFTER)[0].paused
    triggers.set_paused(on_backend, "schedule:adder", False)  # by key, no definitions
    assert not triggers.list_triggers(on_backend, defs, now=AFTER)[0].paused
    assert triggers.list_ticks(on_backend, "schedule:adder") == []
    with pytest.raises(LegatoError, match="no schedule, sensor or asset trigger named 'addr'"):
        triggers.set_paused(on_backend, "addr", True, definitions=defs)
    with pytest.raises(LegatoError, match="not a trigger key"):
        triggers.set_paused(on_backend, "adder", True)


def test_a_backfill_is_started_driven_read_and_rerun(on_backend: Settings,
                                                     defs: Definitions) -> None:
    started, new = backfills.start_backfill(on_backend, defs, ["days"], first="2020-01-01",
                                            last="2020-01-03", max_concurrent=2)
    assert new and started.status == "running" and started.total == 3
    assert (started.selection, started.first, started.last, started.keys) == (
        ("days",), "2020-01-01", "2020-01-03", None)
    assert started.definitions == defs.source and started.failed_partitions is None
    same, new = backfills.start_backfill(on_backend, defs, ["days"], first="2020-01-01",
                                         last="2020-01-03", max_concurrent=2)
    assert not new and same.backfill_id == started.backfill_id
    seen = []
    ended = backfills.drive_backfill(on_backend, started.backfill_id, defs,
                                     on_progress=seen.append)
    assert (ended.status, ended.succeeded, ended.failed, ended.done) == ("failed", 2, 1, 3)
    assert ended.finished and seen
    one = backfills.get_backfill(on_backend, started.backfill_id[:6])
    assert one.failed_partitions == ("2020-01-02",) and one.ended_at is not None
    assert [b.backfill_id for b in backfills.list_backfills(on_backend)] == [one.backfill_id]
    with pytest.raises(PartitionError, match="has ended"):
        backfills.resumable_backfill(on_backend, one.backfill_id)
    rerun, new = backfills.rerun_failed(on_backend, defs, one.backfill_id)
    assert new and rerun.keys == ("2020-01-02",) and rerun.rerun_of == one.backfill_id
    assert backfills.resumable_backfill(on_backend, rerun.backfill_id).backfill_id == \
        rerun.backfill_id
    canceled = backfills.cancel_backfill(on_backend, rerun.backfill_id)
    assert (canceled.status, canceled.already_ended) == ("canceled", False)
    assert backfills.cancel_backfill(on_backend, rerun.backfill_id).already_ended
    with pytest.raises(BackfillNotFoundError):
        backfills.get_backfill(on_backend, "nope")
