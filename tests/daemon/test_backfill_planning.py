"""Planning and advancing backfills: what is refused, how many runs are enqueued at
once, how a backfill ends, cancels, picks up again and reruns its failed partitions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from tests.daemon.backfill_kit import assets_module, executions, read_log

import legato as lg
from legato.daemon.backfill import (
    MAX_WITHOUT_YES,
    advance_backfill,
    plan_backfill,
    rerun_failed,
    start_backfill,
)
from legato.daemon.backfill_driver import drive_backfill
from legato.errors import BackfillNotFoundError
from legato.store import queue
from legato.store.backfills import cancel_backfill, get_backfill, run_counts
from legato.store.sql_store import SqlStore


@pytest.fixture
def kit(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    with assets_module(project, monkeypatch) as module:
        yield module


@pytest.fixture
def defs(kit: ModuleType, project: Path) -> lg.Definitions:
    return lg.load(str(project / "bf_assets.py"))


@pytest.fixture
def settings(project: Path) -> lg.Settings:
    return lg.Settings(home=project / ".legato")


@pytest.fixture
def store(settings: lg.Settings) -> Iterator[SqlStore]:
    with SqlStore(settings.store_url) as opened:
        yield opened


@pytest.mark.parametrize(("selection", "options", "error", "words"), [
    (["dayz"], {"first": "2020-01-01"}, lg.SelectionError, "did you mean 'days'"),
    (["plain"], {}, lg.PartitionError, "'plain' is not partitioned"),
    (["days"], {"first": "2020-03-01", "last": "2020-01-03"}, lg.PartitionError,
     "in the wrong order"),
    (["days"], {"first": "2019-12-31", "last": "2020-01-03"}, lg.PartitionError,
     "before the first partition, '2020-01-01'"),
    (["days"], {"keys": ["2020-01-01", "1 Jan"]}, lg.PartitionError, "write YYYY-MM-DD"),
    (["days"], {"keys": ["2999-01-01"]}, lg.PartitionError, "has not ended yet"),
    (["regions"], {"keys": ["mars"]}, lg.PartitionError, "not one of the partitions"),
    (["days", "regions"], {}, lg.PartitionError, "partitioned differently"),
    (["days", "plain"], {"first": "2020-01-01", "keys": ["2020-01-01"]}, lg.PartitionError,
     "not both"),
])
def test_bad_requests_are_refused_with_a_hint(defs: lg.Definitions, selection: list[str],
                                              options: dict[str, object],
                                              error: type[Exception], words: str) -> None:
    with pytest.raises(error) as caught:
        plan_backfill(defs, selection, **options)  # type: ignore[arg-type]
    assert words in str(caught.value)
    assert isinstance(caught.value, lg.LegatoError)
    assert caught.value.hint or "did you mean" in str(caught.value)


def test_more_than_ten_thousand_partitions_need_yes(defs: lg.Definitions) -> None:
    hourly = lg.HourlyPartitions(start="2020-01-01")

    @lg.asset(partitions=hourly)
    def hours() -> int:
        return 1

    many = lg.Definitions(assets=[hours])
    with pytest.raises(lg.PartitionError, match="more than 10,000 partitions") as caught:
        plan_backfill(many, ["hours"], first="2020-01-01T00:00", last="2021-12-31T23:00")
    assert "--yes" in (caught.value.hint or "")
    planned = plan_backfill(many, ["hours"], first="2020-01-01T00:00",
                            last="2021-12-31T23:00", yes=True)
    assert planned.total == (366 + 365) * 24 > MAX_WITHOUT_YES
    assert planned.spec["first"] == "2020-01-01T00:00"
    assert planned.spec["last"] == "2021-12-31T23:00"  # a range, not a list of keys
    assert "keys" not in planned.spec
    exactly = plan_backfill(defs, ["days"], first="2020-01-01", last="2020-01-10")
    assert exactly.total == 10


def test_advance_enqueues_up_to_the_limit_and_completes(defs: lg.Definitions,
                                                         store: SqlStore) -> None:
    planned = plan_backfill(defs, ["days"], first="2020-01-01", last="2020-01-07",
                            max_concurrent=3)
    record, new = start_backfill(store, planned)
    assert new
    progress = advance_backfill(store, record, defs)
    assert (progress.queued, progress.total) == (3, 7)
    assert advance_backfill(store, record, defs).queued == 3  # full: nothing more
    assert get_backfill(store, record.backfill_id).cursor == "2020-01-03"
    while True:
        claimed = queue.claim(store, "test", 60, limit=10)
        for run in claimed:  # end each run as if a worker had
            store.commit([lg_event(run.run_id, "run_succeeded")])
        progress = advance_backfill(store, record, defs)
        if progress.finished:
            break
        assert progress.queued + progress.running <= 3
    assert progress.status == "completed" and progress.succeeded == 7


def test_the_scheduler_advances_running_backfills(defs: lg.Definitions,
                                                  settings: lg.Settings,
                                                  store: SqlStore) -> None:
    """A backfill started without its driver (``legato backfill --detach``, or one whose
    driver was stopped) goes on in the scheduler's passes, and ends there."""
    from legato.daemon.scheduler import Scheduler

    record, _ = start_backfill(store, plan_backfill(defs, ["days"], first="2020-01-01",
                                                    last="2020-01-05", max_concurrent=2))
    with Scheduler(settings, defs, store=store) as scheduler:
        report = scheduler.tick()
        assert report.backfills == 1 and "1 backfill advanced" in report.describe()
        assert run_counts(store, record.backfill_id) == {"queued": 2}
        for _ in range(10):
            for run in queue.claim(store, "test", 60, limit=10):
                store.commit([lg_event(run.run_id, "run_succeeded")])
            scheduler.tick()
            if get_backfill(store, record.backfill_id).status != "running":
                break
        assert get_backfill(store, record.backfill_id).status == "completed"
        assert scheduler.tick().backfills == 0  # an ended backfill is left alone
        other = lg.Definitions(assets=[])  # definitions without its assets leave it be
        again, _ = start_backfill(store, plan_backfill(defs, ["days"], first="2020-01-06",
                                                       last="2020-01-06"))
    with Scheduler(settings, other, store=store) as stranger:
        assert stranger.tick().backfills == 0
    assert run_counts(store, again.backfill_id) == {}


def lg_event(run_id: str, kind: str) -> object:
    import time

    from legato.store.records import Event

    return Event(run_id, None, None, kind, time.time(), {})


def test_the_same_request_picks_up_the_running_backfill(defs: lg.Definitions,
                                                        store: SqlStore) -> None:
    first, new = start_backfill(store, plan_backfill(defs, ["days"], first="2020-01-01",
                                                     last="2020-01-05"))
    again, new_again = start_backfill(store, plan_backfill(defs, ["days"],
                                                           first="2020-01-01",
                                                           last="2020-01-05"))
    assert new and not new_again and again.backfill_id == first.backfill_id
    other, new_other = start_backfill(store, plan_backfill(defs, ["days"],
                                                           first="2020-01-01",
                                                           last="2020-01-06"))
    assert new_other and other.backfill_id != first.backfill_id


def test_cancel_cancels_the_queued_runs_and_stops_planning(defs: lg.Definitions,
                                                           store: SqlStore) -> None:
    record, _ = start_backfill(store, plan_backfill(defs, ["days"], first="2020-01-01",
                                                    last="2020-01-31"))
    advance_backfill(store, record, defs)
    [running] = queue.claim(store, "test", 60)
    assert cancel_backfill(store, record.backfill_id, "canceled by the user") == 3
    assert cancel_backfill(store, record.backfill_id, "again") is None
    counts = run_counts(store, record.backfill_id)
    assert counts == {"canceled": 3, "running": 1}  # the running one finishes
    progress = advance_backfill(store, record, defs)
    assert progress.status == "canceled" and progress.queued == 0
    assert store.get_run(running.run_id).status == "running"


def test_failed_partitions_fail_the_backfill_and_rerun_alone(
        defs: lg.Definitions, settings: lg.Settings, store: SqlStore, project: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL_ON", "2020-01-03,2020-01-05")
    record, _ = start_backfill(store, plan_backfill(defs, ["days"], first="2020-01-01",
                                                    last="2020-01-08"))
    progress = drive_backfill(settings, record.backfill_id, defs)
    assert (progress.status, progress.succeeded, progress.failed) == ("failed", 6, 2)
    assert progress.error is not None and "2020-01-03, 2020-01-05" in progress.error
    assert f"--rerun-failed {record.backfill_id}" in progress.error
    monkeypatch.setenv("FAIL_ON", "")
    retry, _ = start_backfill(store, rerun_failed(store, defs, record.backfill_id))
    assert retry.spec["keys"] == ["2020-01-03", "2020-01-05"]
    assert retry.spec["rerun_of"] == record.backfill_id
    done = drive_backfill(settings, retry.backfill_id, defs)
    assert (done.status, done.succeeded) == ("completed", 2)
    counts = executions(read_log(project / "log.txt"))
    assert counts == {day: 1 for day in (f"2020-01-0{i}" for i in range(1, 9))}
    with pytest.raises(lg.PartitionError, match="no failed partitions"):
        rerun_failed(store, defs, retry.backfill_id)


def test_static_partitions_and_a_list_of_keys(defs: lg.Definitions, settings: lg.Settings,
                                              store: SqlStore) -> None:
    record, _ = start_backfill(store, plan_backfill(defs, ["regions"]))
    assert record.total == 3 and record.spec["first"] == "eu"
    assert drive_backfill(settings, record.backfill_id, defs).succeeded == 3
    listed, _ = start_backfill(store, plan_backfill(defs, ["days", "weekly_view"],
                                                    keys=["2020-02-01", "2020-01-15"]))
    assert drive_backfill(settings, listed.backfill_id, defs).succeeded == 2
    latest = store.latest_materialization("weekly_view", "2020-01-15")
    assert latest is not None and latest.partition_key == "2020-01-15"


def test_unknown_backfill_ids_are_refused(store: SqlStore) -> None:
    with pytest.raises(BackfillNotFoundError) as caught:
        get_backfill(store, "nope")
    assert caught.value.hint == "list backfills with: legato backfills"


@pytest.mark.postgres
def test_a_backfill_on_postgresql(defs: lg.Definitions, project: Path, postgres_url: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.daemon.backfill_kit import max_overlap

    monkeypatch.setenv("BODY_S", "0.01")
    settings = lg.Settings(home=project / ".legato", database_url=postgres_url)
    with SqlStore(settings.store_url) as pg:
        record, _ = start_backfill(pg, plan_backfill(defs, ["days"], first="2020-01-01",
                                                     last="2020-01-30", max_concurrent=3))
        progress = drive_backfill(settings, record.backfill_id, defs, slots=6)
        assert (progress.status, progress.succeeded) == ("completed", 30)
        latest = pg.latest_materialization("days", "2020-01-30")
    assert latest is not None
    rows = read_log(project / "log.txt")
    assert set(executions(rows).values()) == {1} and len(rows) == 30
    assert max_overlap((start, end) for _, start, end in rows) <= 3
