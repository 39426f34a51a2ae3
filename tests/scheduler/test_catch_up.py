"""Catch-up: which ticks run after a pause, as a pure function of (last tick, now)."""

from __future__ import annotations

import datetime as dt

import pytest
from timekit import BERLIN, utc

from legato.scheduler.catch_up import CatchUp, check_catch_up, due_ticks
from legato.scheduler.cron import CronCadence
from legato.scheduler.interval import IntervalCadence

HOURLY = CronCadence("0 * * * *", "UTC")
NIGHTLY = CronCadence("0 3 * * *", "Europe/Berlin")


def keys(ticks: tuple[object, ...]) -> list[str]:
    return [t.key for t in ticks]  # type: ignore[attr-defined]


def test_first_evaluation_runs_nothing_and_starts_the_cursor_at_now() -> None:
    due = due_ticks(HOURLY, CatchUp("all"), None, utc(2026, 1, 1, 10, 30))
    assert due.run == () and due.skipped is None and due.cursor == utc(2026, 1, 1, 10, 30)


def test_an_on_time_tick_runs_under_every_policy() -> None:
    for policy in ("none", "latest", "all"):
        due = due_ticks(HOURLY, CatchUp(policy), utc(2026, 1, 1, 10), utc(2026, 1, 1, 11, 0, 5))
        assert keys(due.run) == ["2026-01-01T11:00:00Z"], policy
        assert due.skipped is None and due.cursor == utc(2026, 1, 1, 11)


def test_nothing_due_keeps_the_cursor() -> None:
    due = due_ticks(HOURLY, CatchUp("latest"), utc(2026, 1, 1, 11), utc(2026, 1, 1, 11, 59))
    assert due.run == () and due.cursor == utc(2026, 1, 1, 11)


def test_a_clock_that_went_backwards_runs_nothing_again() -> None:
    due = due_ticks(HOURLY, CatchUp("all"), utc(2026, 1, 1, 11), utc(2026, 1, 1, 9, 30))
    assert due.run == () and due.cursor == utc(2026, 1, 1, 11)


def test_after_a_night_down_none_skips_every_missed_tick() -> None:
    due = due_ticks(HOURLY, CatchUp("none"), utc(2026, 1, 1, 0), utc(2026, 1, 1, 8, 30))
    assert due.run == ()
    assert due.skipped is not None
    assert (due.skipped.first.key, due.skipped.last.key) == (
        "2026-01-01T01:00:00Z", "2026-01-01T08:00:00Z")
    assert "catch_up='none'" in due.skipped.reason
    assert due.cursor == utc(2026, 1, 1, 8)


def test_after_a_night_down_latest_runs_only_the_newest() -> None:
    due = due_ticks(HOURLY, CatchUp("latest"), utc(2026, 1, 1, 0), utc(2026, 1, 1, 8, 30))
    assert keys(due.run) == ["2026-01-01T08:00:00Z"]
    assert due.skipped is not None
    assert (due.skipped.first.key, due.skipped.last.key) == (
        "2026-01-01T01:00:00Z", "2026-01-01T07:00:00Z")


def test_latest_with_an_on_time_tick_runs_that_one() -> None:
    due = due_ticks(HOURLY, CatchUp("latest"), utc(2026, 1, 1, 0), utc(2026, 1, 1, 8, 0, 10))
    assert keys(due.run) == ["2026-01-01T08:00:00Z"]
    assert due.skipped is not None and due.skipped.last.key == "2026-01-01T07:00:00Z"


def test_after_a_night_down_all_runs_every_missed_tick_in_order() -> None:
    due = due_ticks(HOURLY, CatchUp("all"), utc(2026, 1, 1, 0), utc(2026, 1, 1, 8, 30))
    assert keys(due.run) == [f"2026-01-01T{h:02d}:00:00Z" for h in range(1, 9)]
    assert due.skipped is None


def test_all_with_a_cap_runs_the_newest_and_skips_the_older() -> None:
    due = due_ticks(HOURLY, CatchUp("all", 3), utc(2026, 1, 1, 0), utc(2026, 1, 1, 8, 30))
    assert keys(due.run) == ["2026-01-01T06:00:00Z", "2026-01-01T07:00:00Z",
                             "2026-01-01T08:00:00Z"]
    assert due.skipped is not None
    assert (due.skipped.first.key, due.skipped.last.key) == (
        "2026-01-01T01:00:00Z", "2026-01-01T05:00:00Z")
    assert "at most 3" in due.skipped.reason


def test_a_cap_counts_late_ticks_only() -> None:
    """Ticks inside the grace window are on time: they run on top of the cap."""
    every = IntervalCadence(10)
    due = due_ticks(every, CatchUp("all", 2), utc(2026, 1, 1, 0, 0, 0),
                    utc(2026, 1, 1, 0, 5, 0), grace=dt.timedelta(seconds=30))
    assert keys(due.run) == ["2026-01-01T00:04:20Z", "2026-01-01T00:04:30Z",
                             "2026-01-01T00:04:40Z", "2026-01-01T00:04:50Z",
                             "2026-01-01T00:05:00Z"]


def test_a_scheduler_behind_by_seconds_drops_nothing() -> None:
    every = IntervalCadence(1)
    due = due_ticks(every, CatchUp("none"), utc(2026, 1, 1, 0, 0, 0), utc(2026, 1, 1, 0, 0, 7))
    assert len(due.run) == 7 and due.skipped is None


def test_a_year_of_minutes_is_not_walked_for_latest() -> None:
    minutely = CronCadence("* * * * *", "UTC")
    due = due_ticks(minutely, CatchUp("latest"), utc(2025, 1, 1), utc(2026, 1, 1, 0, 0, 30))
    assert keys(due.run) == ["2026-01-01T00:00:00Z"]
    assert due.skipped is not None and due.skipped.first.key == "2025-01-01T00:01:00Z"


def test_simulated_scheduler_across_a_dst_day_runs_each_tick_once() -> None:
    """A fake clock steps every 37 s through Berlin's fall-back day; with a pause."""
    cadence = CronCadence("*/30 * * * *", "Europe/Berlin")
    cursor = None
    ran: list[str] = []
    now = utc(2026, 10, 24, 20)
    while now < utc(2026, 10, 25, 12):
        if not utc(2026, 10, 25, 4) <= now < utc(2026, 10, 25, 6):  # the scheduler is down
            due = due_ticks(cadence, CatchUp("all"), cursor, now)
            ran += keys(due.run)
            cursor = due.cursor
        now += dt.timedelta(seconds=37)
    assert len(ran) == len(set(ran))
    walls = [dt.datetime.fromisoformat(k.replace("Z", "+00:00")).astimezone(BERLIN)
             .strftime("%d %H:%M") for k in ran]
    assert len(walls) == len(set(walls))  # no wall time twice, though 02:00-03:00 repeats
    assert "25 02:30" in walls and "25 06:30" in walls  # the pause was caught up


@pytest.mark.parametrize(("policy", "limit", "message"), [
    ("sometimes", None, "catch_up must be one of 'none', 'latest', 'all'"),
    ("latest", 5, "catch_up_limit only applies to catch_up='all'"),
    ("all", 0, "catch_up_limit must be a whole number >= 1"),
    ("all", True, "catch_up_limit must be a whole number"),
])
def test_bad_policies(policy: str, limit: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_catch_up(policy, limit)


def test_policy_forms() -> None:
    assert check_catch_up("latest", None) == CatchUp("latest")
    assert check_catch_up("all", 7) == CatchUp("all", 7)
    assert CatchUp("all", 7).describe() == "all (at most 7)"
    assert NIGHTLY.describe() == "cron '0 3 * * *' (Europe/Berlin)"
