"""The scheduler loop with an injected clock, on SQLite: catch-up after downtime, restarts,
pause and resume, triggers the definitions lost, sensors that raise or hang, asset-event
triggers. Each test asserts on the queued runs and ticks in the store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from scheduler_kit import (
    T0,
    Clock,
    cursor,
    materialized,
    minutes,
    queued_runs,
    scheduler,
    tick_keys,
    ticks,
)

import legato as lg
from legato.settings import Settings
from legato.store.sql_store import SqlStore
from legato.store.triggers import (
    daemon_holder,
    hold_daemon,
    read_triggers,
    set_paused,
)


@lg.flow
def nightly(day: str = "") -> str:
    return day


@lg.flow
def hourly() -> int:
    return 1


@lg.asset
def orders() -> int:
    return 1


@lg.asset
def customers() -> int:
    return 2


@lg.asset
def report(orders: int, customers: int) -> int:
    return orders + customers


@pytest.fixture
def store(settings: Settings) -> Iterator[SqlStore]:
    with SqlStore(settings.store_url) as opened:
        yield opened


def every_minute(policy: str, **extra: Any) -> lg.Definitions:
    return lg.Definitions(flows=[nightly], schedules=[lg.schedule(
        nightly, lg.every("1m", catch_up=policy, params={"day": "d"}, **extra),  # type: ignore[arg-type]
        name=f"s_{policy}")])


# -- schedules ----------------------------------------------------------------------------


def test_a_new_schedule_starts_with_the_ticks_after_it_was_first_seen(
        settings: Settings, store: SqlStore) -> None:
    clock = Clock(T0.replace(second=30))
    with scheduler(settings, every_minute("latest"), clock) as s:
        first = s.tick()
        assert (first.evaluated, first.requested) == (1, 0)
        assert queued_runs(store) == []
        clock.advance(seconds=30)
        assert s.tick().requested == 1
    [run] = queued_runs(store)
    assert run.tick_key == minutes(T0, 1)[0]
    assert (run.kind, run.target, run.params, run.status) == ("flow", "nightly",
                                                              {"day": "d"}, "queued")
    assert run.idempotency_key == f"schedule:s_latest@{minutes(T0, 1)[0]}"


@pytest.mark.parametrize(("policy", "expected"), [
    ("none", []),
    ("latest", [50]),
    ("all", [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]),
])
def test_catch_up_after_downtime_follows_the_policy_and_a_restart_repeats_nothing(
        settings: Settings, store: SqlStore, policy: str, expected: list[int]) -> None:
    key = f"schedule:s_{policy}"
    defs = lg.Definitions(flows=[nightly], schedules=[lg.schedule(
        nightly, lg.every("5m", catch_up=policy), name=f"s_{policy}")])  # type: ignore[arg-type]
    clock = Clock()
    with scheduler(settings, defs, clock) as s:
        s.tick()  # first seen at T0
    clock.advance(minutes=52)  # down: every tick since is late (more than a minute old)
    with scheduler(settings, defs, clock) as s:
        s.tick()
    assert tick_keys(store, key) == minutes(T0, *expected)
    skipped = ticks(store, key, "skipped")
    if policy == "all":
        assert skipped == []
    else:  # the missed ticks are in the history, as one span, with the reason
        [span] = skipped
        last = 50 if policy == "none" else 45
        assert span.tick_key == f"{minutes(T0, 5)[0]}..{minutes(T0, last)[0]}"
        assert span.detail is not None and f"catch_up='{policy}'" in span.detail
    with scheduler(settings, defs, clock) as s:  # restarted at once: nothing again
        assert s.tick().requested == 0
    clock.advance(minutes=3)
    with scheduler(settings, defs, clock) as s:
        assert s.tick().requested == 1
    assert tick_keys(store, key) == minutes(T0, *expected, 55)


def test_catch_up_all_keeps_its_limit(settings: Settings, store: SqlStore) -> None:
    clock = Clock()
    defs = every_minute("all", catch_up_limit=3)
    with scheduler(settings, defs, clock) as s:
        s.tick()
        clock.advance(minutes=10)
        s.tick()
    # 10 is on time (within the minute of grace); of the late ones, the newest three run
    assert tick_keys(store, "schedule:s_all") == minutes(T0, 7, 8, 9, 10)
    [span] = ticks(store, "schedule:s_all", "skipped")
    assert span.detail is not None and "at most 3" in span.detail


def test_a_scheduler_a_few_seconds_late_never_drops_a_tick(settings: Settings,
                                                           store: SqlStore) -> None:
    clock = Clock()
    with scheduler(settings, every_minute("none"), clock) as s:
        s.tick()
        for _ in range(5):
            clock.advance(seconds=65)  # each pass a little later than the tick
            s.tick()
    assert tick_keys(store, "schedule:s_none") == minutes(T0, 1, 2, 3, 4, 5)


def test_the_loop_sleeps_until_the_next_due_tick(settings: Settings) -> None:
    clock = Clock(T0.replace(second=50))
    with scheduler(settings, every_minute("latest"), clock) as s:
        report = s.tick()
    assert report.next_due == T0.replace(minute=1)


def test_pause_records_skipped_ticks_and_resume_goes_on_from_then(
        settings: Settings, store: SqlStore) -> None:
    key = "schedule:s_all"
    clock = Clock()
    defs = every_minute("all")
    with scheduler(settings, defs, clock) as s:
        s.tick()
        clock.advance(minutes=1)
        s.tick()
        set_paused(store, key, True)
        clock.advance(minutes=3)
        paused = s.tick()
        assert (paused.requested, paused.skipped) == (0, 3)
        assert [t.detail for t in ticks(store, key, "skipped")] == ["paused"] * 3
        set_paused(store, key, False)
        clock.advance(minutes=1)
        s.tick()
    # the ticks of the pause are not run after it, even with catch_up="all"
    assert tick_keys(store, key) == minutes(T0, 1, 5)
    assert not read_triggers(store)[key].paused


def test_pausing_before_the_first_evaluation_still_starts_the_cursor(
        settings: Settings, store: SqlStore) -> None:
    set_paused(store, "schedule:s_latest", True)
    clock = Clock()
    with scheduler(settings, every_minute("latest"), clock) as s:
        s.tick()
        clock.advance(minutes=1)
        s.tick()
    assert queued_runs(store) == []
    [skipped] = ticks(store, "schedule:s_latest", "skipped")
    assert (skipped.tick_key, skipped.detail) == (minutes(T0, 1)[0], "paused")
    assert cursor(store, "schedule:s_latest") == minutes(T0, 1)[0]


def test_a_trigger_whose_definition_was_removed_is_a_failed_tick_once(
        settings: Settings, store: SqlStore) -> None:
    both = lg.Definitions(flows=[nightly, hourly], schedules=[
        lg.schedule(nightly, lg.every("1m"), name="old"),
        lg.schedule(hourly, lg.every("1m"), name="kept")])
    kept_only = lg.Definitions(flows=[hourly], schedules=[
        lg.schedule(hourly, lg.every("1m"), name="kept")])
    clock = Clock()
    with scheduler(settings, both, clock) as s:
        s.tick()
    clock.advance(minutes=1)
    for _ in range(2):  # restarted twice: the failure is recorded once
        with scheduler(settings, kept_only, clock) as s:
            report = s.tick()
            s.tick()
    assert report.requested == 0
    [failed] = ticks(store, "schedule:old", "failed")
    assert failed.detail is not None and "no longer defined" in failed.detail
    assert read_triggers(store)["schedule:old"].last_error == failed.detail
    assert tick_keys(store, "schedule:kept") == minutes(T0, 1)
    assert tick_keys(store, "schedule:old") == []


class Exploding:
    """A trigger with a bug."""

    trigger_key = "schedule:broken"

    def evaluate(self, cursor: str | None, now: Any) -> Any:
        raise RuntimeError("cadence on fire")

    def next_evaluation(self, cursor: str | None, now: Any) -> Any:
        return now


def test_a_trigger_that_raises_is_recorded_and_the_others_still_run(
        settings: Settings, store: SqlStore) -> None:
    defs = lg.Definitions(flows=[hourly], schedules=[
        lg.schedule(hourly, lg.every("1m"), name="fine")])
    clock = Clock()
    with scheduler(settings, defs, clock) as s:
        s.triggers = {"schedule:broken": Exploding(), **s.triggers}
        s.tick()
        clock.advance(minutes=1)
        report = s.tick()
        assert report.failed == ("schedule:broken",)
        s.tick()  # tried again only after a delay
    failed = ticks(store, "schedule:broken", "failed")
    assert [t.detail for t in failed] == ["schedule:broken failed: RuntimeError: cadence on "
                                          "fire"] * 2
    assert tick_keys(store, "schedule:fine") == minutes(T0, 1)


def test_on_sqlite_the_loop_stands_by_while_another_host_holds_the_lease(
        project: Any, store: SqlStore) -> None:
    settings = Settings(home=project / ".legato", scheduler_tick=0.05)
    defs = every_minute("latest")
    assert hold_daemon(store, "scheduler", "elsewhere:1:abc", 1.0)  # a live one elsewhere
    stop = threading.Event()
    reports: list[Any] = []
    with scheduler(settings, defs, Clock(), lease_ttl=5) as s:
        loop = threading.Thread(target=s.run, args=(stop,),
                                kwargs={"on_tick": reports.append})
        loop.start()
        try:
            time.sleep(0.5)
            assert not s.active and reports == []  # standing by
            deadline = time.monotonic() + 10
            while not s.active:
                assert time.monotonic() < deadline, "it never took over"
                time.sleep(0.02)
            holder = daemon_holder(store, "scheduler")
            assert holder is not None and holder[0] == s.owner
            while not reports:
                assert time.monotonic() < deadline
                time.sleep(0.02)
        finally:
            stop.set()
            loop.join(10)
    assert not loop.is_alive()
    assert daemon_holder(store, "scheduler") is None  # released on the way out


def test_the_loop_retries_store_errors_without_ending(
        project: Any, store: SqlStore, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from legato.errors import StoreError

    settings = Settings(home=project / ".legato", scheduler_tick=0.01)
    stop = threading.Event()
    with scheduler(settings, every_minute("latest"), Clock()) as s:
        original, calls = s.tick, []

        def flaky() -> Any:
            calls.append(1)
            if len(calls) <= 2:
                raise StoreError("database is locked")
            stop.set()
            return original()

        monkeypatch.setattr(s, "tick", flaky)
        monkeypatch.setattr("legato.daemon.scheduler.random.uniform", lambda a, b: 0.01)
        with caplog.at_level("WARNING", logger="legato.daemon.scheduler"):
            s.run(stop)
    assert len(calls) == 3
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:2] == [
        "the store failed (database is locked); trying again in 0.0s"] * 2
    assert all(r.exc_info is None for r in caplog.records)  # one line, no traceback


# -- sensors ------------------------------------------------------------------------------


def test_a_sensor_requests_runs_keeps_its_cursor_and_dedups_run_keys(
        settings: Settings, store: SqlStore) -> None:
    seen: list[str | None] = []

    @lg.sensor(interval="30s", flow=nightly)
    def files(ctx: lg.SensorContext) -> list[lg.RunRequest]:
        seen.append(ctx.cursor)
        n = int(ctx.cursor or 0)
        ctx.cursor = str(n + 1)
        # each evaluation names the file it saw before again: its run_key dedups it
        return [lg.RunRequest(run_key=f"file-{i}", params={"day": f"f{i}"})
                for i in range(max(n - 1, 0), n + 1)]

    defs = lg.Definitions(flows=[nightly], sensors=[files])
    clock = Clock()
    for _ in range(3):  # a restarted scheduler goes on from the stored cursor
        with scheduler(settings, defs, clock) as s:
            s.tick()
            s.tick()  # the same grid tick: not evaluated twice
        clock.advance(seconds=30)
    assert seen == [None, "1", "2"]
    runs = queued_runs(store, "sensor:files")
    assert [r.tick_key for r in runs] == ["file-0", "file-1", "file-2"]
    assert [r.params for r in runs] == [{"day": "f0"}, {"day": "f1"}, {"day": "f2"}]
    duplicates = [t for t in ticks(store, "sensor:files", "skipped")
                  if t.detail == "its run was requested before"]
    assert [t.tick_key for t in duplicates] == ["file-0", "file-1"]


def test_a_sensor_without_run_keys_gets_one_run_per_evaluation(
        settings: Settings, store: SqlStore) -> None:
    @lg.sensor(interval="10s", selection="report")
    def always(ctx: lg.SensorContext) -> list[lg.RunRequest]:
        return [lg.RunRequest(), lg.RunRequest(params={"n": 2})]

    defs = lg.Definitions(assets=[orders, customers, report], sensors=[always])
    clock = Clock()
    with scheduler(settings, defs, clock) as s:
        s.tick()
        clock.advance(seconds=10)
        s.tick()
    runs = queued_runs(store, "sensor:always")
    base = minutes(T0, 0)[0]
    assert [r.tick_key for r in runs] == [base, f"{base}#1", "2026-11-20T12:00:10Z",
                                          "2026-11-20T12:00:10Z#1"]
    assert {(r.kind, r.target) for r in runs} == {("assets", "report")}


def test_a_sensor_skip_reason_is_recorded(settings: Settings, store: SqlStore) -> None:
    @lg.sensor(interval="10s", flow=nightly)
    def quiet() -> str:
        return "no new files"

    with scheduler(settings, lg.Definitions(flows=[nightly], sensors=[quiet]), Clock()) as s:
        assert s.tick().skipped == 1
    [tick] = ticks(store, "sensor:quiet")
    assert (tick.status, tick.detail) == ("skipped", "no new files")


def test_a_sensor_that_raises_is_a_failed_tick_and_is_tried_at_its_next_tick(
        settings: Settings, store: SqlStore) -> None:
    calls: list[str | None] = []

    @lg.sensor(interval="10s", flow=nightly)
    def flaky(ctx: lg.SensorContext) -> lg.RunRequest:
        calls.append(ctx.cursor)
        ctx.cursor = "moved"
        if len(calls) == 1:
            raise ValueError("the bucket is gone")
        return lg.RunRequest(run_key="one")

    defs = lg.Definitions(flows=[nightly, hourly], sensors=[flaky], schedules=[
        lg.schedule(hourly, lg.every("10s"), name="beside")])
    clock = Clock()
    with scheduler(settings, defs, clock) as s:
        report = s.tick()  # a sensor is called when first seen
        assert report.failed == ("sensor:flaky",)
        [failed] = ticks(store, "sensor:flaky", "failed")
        assert failed.detail is not None
        assert failed.detail.startswith("sensor 'flaky' raised ValueError: the bucket is gone")
        assert "Traceback" in failed.detail
        assert read_triggers(store)["sensor:flaky"].last_error == failed.detail
        s.tick()  # same grid tick: not again
        clock.advance(seconds=10)
        assert s.tick().failed == ()
        assert tick_keys(store, "schedule:beside") == ["2026-11-20T12:00:10Z"]
    assert calls == [None, None]  # the failed evaluation's cursor was not kept
    assert tick_keys(store, "sensor:flaky") == ["one"]
    assert read_triggers(store)["sensor:flaky"].last_error is None
    assert cursor(store, "sensor:flaky") == '{"at":"2026-11-20T12:00:10Z","cursor":"moved"}'


def test_a_sensor_that_hangs_times_out_and_the_scheduler_goes_on(
        settings: Settings, store: SqlStore) -> None:
    release = threading.Event()
    calls = []

    @lg.sensor(interval="10s", flow=nightly, timeout=0.2)
    def stuck() -> lg.RunRequest:
        calls.append(1)
        if len(calls) == 1:
            release.wait(30)
        return lg.RunRequest(run_key=f"call-{len(calls)}")

    defs = lg.Definitions(flows=[nightly, hourly], sensors=[stuck], schedules=[
        lg.schedule(hourly, lg.every("10s"), name="beside")])
    clock = Clock()
    with scheduler(settings, defs, clock) as s:
        started = time.monotonic()
        report = s.tick()
        assert time.monotonic() - started < 5
        assert report.failed == ("sensor:stuck",)
        clock.advance(seconds=10)
        assert s.tick().failed == ("sensor:stuck",)  # still hung: not called again
        assert tick_keys(store, "schedule:beside") == ["2026-11-20T12:00:10Z"]
        release.set()
        deadline = time.monotonic() + 10
        while s.triggers["sensor:stuck"]._in_flight.busy():  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.01)
        clock.advance(seconds=10)
        assert s.tick().failed == ()
    details = [t.detail or "" for t in ticks(store, "sensor:stuck", "failed")]
    assert "took longer than its timeout of 0.2s" in details[0]
    assert "still running its evaluation that timed out" in details[1]
    assert len(calls) == 2
    assert tick_keys(store, "sensor:stuck") == ["call-2"]


def test_the_sensor_timeout_setting_applies_when_the_sensor_has_none(
        project: Any, store: SqlStore) -> None:
    settings = Settings(home=project / ".legato", sensor_timeout=0.1)
    release = threading.Event()

    @lg.sensor(interval="10s", flow=nightly)
    def slow() -> None:
        release.wait(10)

    with scheduler(settings, lg.Definitions(flows=[nightly], sensors=[slow]), Clock()) as s:
        assert s.tick().failed == ("sensor:slow",)
    release.set()
    [failed] = ticks(store, "sensor:slow", "failed")
    assert "timeout of 0.1s" in (failed.detail or "")


def test_a_paused_sensor_is_not_called(settings: Settings, store: SqlStore) -> None:
    calls = []

    @lg.sensor(interval="10s", flow=nightly)
    def watched() -> lg.RunRequest:
        calls.append(1)
        return lg.RunRequest()

    set_paused(store, "sensor:watched", True)
    clock = Clock()
    with scheduler(settings, lg.Definitions(flows=[nightly], sensors=[watched]), clock) as s:
        s.tick()
        clock.advance(seconds=10)
        s.tick()
        set_paused(store, "sensor:watched", False)
        clock.advance(seconds=10)
        s.tick()
    assert len(calls) == 1
    assert [t.detail for t in ticks(store, "sensor:watched", "skipped")] == ["paused"] * 2
    assert tick_keys(store, "sensor:watched") == ["2026-11-20T12:00:20Z"]


def test_a_sensor_returning_something_else_fails_with_what_to_return(
        settings: Settings, store: SqlStore) -> None:
    @lg.sensor(interval="10s", flow=nightly)
    def odd() -> int:
        return 42

    with scheduler(settings, lg.Definitions(flows=[nightly], sensors=[odd]), Clock()) as s:
        s.tick()
    [failed] = ticks(store, "sensor:odd", "failed")
    assert failed.detail == ("sensor 'odd' returned 42; return lg.RunRequest(...), a list of "
                             "them, None, or a string saying why no run is requested")


def test_params_that_are_not_json_fail_the_tick(settings: Settings, store: SqlStore) -> None:
    @lg.sensor(interval="10s", flow=nightly)
    def objects() -> lg.RunRequest:
        return lg.RunRequest(params={"day": object()})

    with scheduler(settings, lg.Definitions(flows=[nightly], sensors=[objects]),
                   Clock()) as s:
        assert s.tick().failed == ("sensor:objects",)
    assert queued_runs(store) == []
    [failed] = ticks(store, "sensor:objects", "failed")
    assert "params are not JSON" in (failed.detail or "")


# -- asset-event triggers -----------------------------------------------------------------


def asset_defs(mode: str) -> lg.Definitions:
    trigger = lg.on_materialized("orders", "customers", run="report", mode=mode,  # type: ignore[arg-type]
                                 name="report_after_loads")
    return lg.Definitions(assets=[orders, customers, report], asset_triggers=[trigger])


def test_any_runs_once_per_new_materialization(settings: Settings, store: SqlStore) -> None:
    key = "asset_trigger:report_after_loads"
    materialized(store, "orders", "m-old", 1.0)  # before the trigger existed: not a run
    clock = Clock()
    with scheduler(settings, asset_defs("any"), clock) as s:
        s.tick()
        assert queued_runs(store) == []
        materialized(store, "orders", "m-o1", 2.0)
        assert s.tick().requested == 1
        assert s.tick().requested == 0  # the same materialization: no second run
        materialized(store, "customers", "m-c1", 3.0)
        materialized(store, "orders", "m-o2", 4.0)
        assert s.tick().requested == 1  # two new ones at once: one run
    runs = queued_runs(store, key)
    assert [(r.kind, r.target) for r in runs] == [("assets", "report")] * 2
    assert len({r.tick_key for r in runs}) == 2
    assert cursor(store, key) == '{"customers":"m-c1","orders":"m-o2"}'


def test_all_waits_for_every_upstream(settings: Settings, store: SqlStore) -> None:
    key = "asset_trigger:report_after_loads"
    clock = Clock()
    with scheduler(settings, asset_defs("all"), clock) as s:
        s.tick()
        materialized(store, "orders", "m-o1", 2.0)
        materialized(store, "orders", "m-o2", 3.0)
        assert s.tick().requested == 0
        materialized(store, "customers", "m-c1", 4.0)
        assert s.tick().requested == 1
        materialized(store, "customers", "m-c2", 5.0)
        assert s.tick().requested == 0
    assert len(queued_runs(store, key)) == 1


def test_the_same_materializations_make_the_same_run_key(settings: Settings,
                                                         store: SqlStore) -> None:
    """A scheduler that evaluates the same materializations again (another one saved
    first, or it restarted from an older cursor) asks for the same run: its key comes
    from the materialization ids, and the store holds it to one run."""
    key = "asset_trigger:report_after_loads"
    with scheduler(settings, asset_defs("any"), Clock()) as s:
        s.tick()
    start = read_triggers(store)[key].cursor
    materialized(store, "orders", "m-o1", 2.0)
    with scheduler(settings, asset_defs("any"), Clock()) as s:
        s.tick()
    [run] = queued_runs(store, key)
    trigger = asset_defs("any").asset_triggers["report_after_loads"]
    again = trigger.evaluate(start, T0, materializations={"orders": "m-o1"})
    assert again.run_requests[0].run_key == run.idempotency_key
    from legato.store.queue import enqueue, queued_event

    assert enqueue(store, [queued_event("x" * 16, kind="assets", target="report", params={},
                                        source=None, idempotency_key=run.idempotency_key)]) \
        == [False]


def test_evaluations_saved_together_keep_their_compare_and_set_each(
        settings: Settings, store: SqlStore) -> None:
    """A pass saves many triggers in one transaction; one whose state moved since it was
    read is dropped alone (another scheduler saved it), the others are saved."""
    from legato.store.triggers import EvaluationSave, save_evaluations

    defs = lg.Definitions(flows=[nightly], schedules=[
        lg.schedule(nightly, lg.every("1m"), name=f"s{i}") for i in range(3)])
    clock = Clock()
    with scheduler(settings, defs, clock) as s:
        s.tick()
    states = read_triggers(store)
    set_paused(store, "schedule:s1", False)  # moves s1's version on: its state is stale
    saved = save_evaluations(store, [
        EvaluationSave(trigger_key=f"schedule:s{i}", seen=states[f"schedule:s{i}"],
                       cursor=f"c{i}") for i in (2, 1, 0)])
    assert saved == [[], None, []]
    assert [cursor(store, f"schedule:s{i}") for i in range(3)] == [
        "c0", states["schedule:s1"].cursor, "c2"]
