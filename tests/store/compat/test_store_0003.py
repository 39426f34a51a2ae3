"""A store written by schema revision 0003 (``store_0003.db``, made by
``make_store_0003.py``) opens, migrates to the code's HEAD and reads back correctly through
the store's read paths (Dagster's compatibility fixtures)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from legato.store.backfills import BackfillStatus, get_backfill, run_counts
from legato.store.events import RunTarget, payload_of
from legato.store.migrations import HEAD
from legato.store.queue import queued_runs
from legato.store.records import RunStatus, StepStatus
from legato.store.sql_store import SqlStore
from legato.store.triggers import list_ticks, read_triggers

FIXTURE = Path(__file__).parent / "store_0003.db"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    path = tmp_path / "legato.db"
    shutil.copyfile(FIXTURE, path)
    with SqlStore(f"sqlite:///{path}") as opened:
        yield opened


def test_the_fixture_is_at_revision_0003() -> None:
    db = sqlite3.connect(f"file:{FIXTURE}?mode=ro", uri=True)
    try:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0003",)
    finally:
        db.close()


def test_it_migrates_to_head(store: SqlStore, tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "legato.db")
    try:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)
    finally:
        db.close()


def test_runs_read_back(store: SqlStore) -> None:
    runs = store.list_runs(limit=100)
    by_status: dict[RunStatus, list[str]] = {}
    for run in runs:
        by_status.setdefault(run.status, []).append(run.target)
    assert sorted(by_status[RunStatus.SUCCEEDED]) == ["nightly", "raw,doubled", "regional",
                                                      "regional"]
    assert by_status[RunStatus.FAILED] == ["failing"]
    assert sorted(by_status[RunStatus.QUEUED]) == ["nightly", "raw,doubled", "regional",
                                                   "regional"]
    nightly = next(r for r in runs if r.target == "nightly" and r.status == "succeeded")
    assert nightly.kind == "flow" and nightly.params == {"n": 5}
    assert nightly.duration is not None
    failing = next(r for r in runs if r.target == "failing")
    assert failing.error is not None and "broken" in failing.error


def test_steps_with_retries_and_logs(store: SqlStore) -> None:
    runs = {(r.target, r.partition_key): r for r in store.list_runs(status="succeeded")}
    assets_run = runs[("raw,doubled", None)]
    steps = {s.step_key: s for s in store.get_steps(assets_run.run_id)}
    assert steps["doubled"].status == StepStatus.SUCCEEDED and steps["doubled"].attempts == 2
    assert steps["doubled"].upstream == ["raw"]
    assert [line.message.strip() for line in store.get_logs(assets_run.run_id, "raw")] == [
        "raw: three rows"]
    kinds = [e.kind for e in store.get_events(assets_run.run_id)]
    assert kinds.count("step_failed") == 1 and kinds[-1] == "run_succeeded"
    flow_steps = {s.step_key: s for s in store.get_steps(runs[("nightly", None)].run_id)}
    assert flow_steps["flaky"].attempts == 2 and flow_steps["flaky-2"].attempts == 1
    value = store.get_value(flow_steps["flaky"].value_id or "")
    assert value is not None and value.inline == "6"


def test_materializations_and_partitions(store: SqlStore) -> None:
    latest = store.latest_materializations()
    assert set(latest) == {"raw", "doubled", "regional"}
    assert latest["doubled"].upstream.keys() == {"raw"}
    regional = store.latest_partition_materializations("regional", ["eu", "us", "asia"])
    assert set(regional) == {"eu", "us"}
    assert store.partition_counts() == {"regional": 2}


def test_triggers_and_ticks(store: SqlStore) -> None:
    triggers = read_triggers(store)
    assert triggers["schedule:nightly"].cursor == "1700003600"
    assert not triggers["schedule:nightly"].paused and triggers["sensor:files"].paused
    ticks = list_ticks(store, "schedule:nightly")
    assert [(t.tick_key, t.status) for t in ticks] == [("1700000000", "skipped"),
                                                       ("1700003600", "requested")]
    assert ticks[1].run_id == "a" * 32


def test_backfill_and_queue(store: SqlStore) -> None:
    backfill = get_backfill(store, "last")
    assert backfill.status == BackfillStatus.RUNNING and backfill.cursor == "us"
    assert backfill.spec["keys"] == ["eu", "us"] and backfill.total == 2
    assert run_counts(store, backfill.backfill_id) == {"queued": 2}
    queue = queued_runs(store)
    assert queue[0].priority == 5 and queue[0].target == "raw,doubled"
    scheduled = store.find_run_by_idempotency_key("schedule:nightly@1700003600")
    assert scheduled is not None and scheduled.trigger_key == "schedule:nightly"
    events = store.get_events(scheduled.run_id)
    assert events[0].data["ds"] == "2023-11-14"


def test_every_event_reads_as_its_typed_payload(store: SqlStore) -> None:
    """Payloads written before they were typed read back: each known field, none lost."""
    for run in store.list_runs(limit=100):
        events = store.get_events(run.run_id)
        for item in events:
            payload = payload_of(item)
            assert item.kind == payload.KIND
            for name, value in item.data.items():
                assert getattr(payload, name) == value, (item.kind, name)
        first = payload_of(events[0])
        target = RunTarget.read(run.kind, run.target, first.selection)
        assert target.text == run.target
        if run.kind == "assets":
            assert ",".join(target.selection) == run.target


def test_runs_of_the_fixture_are_found_by_any_asset_of_their_selection(store: SqlStore
                                                                      ) -> None:
    """Migration 0005 fills ``runs.assets`` of existing runs from their target."""
    found = {run.run_id for run in store.list_runs(target="doubled")}
    assert found == {"1a23d07cc4a2825f", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}
    assert {run.target for run in store.list_runs(target="nightly")} == {"nightly"}
