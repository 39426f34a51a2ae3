"""Backfill rows and partitioned materializations in the store, on SQLite and PostgreSQL:
the cursor moves compare-and-set with the runs it enqueues, a partition is enqueued once
per backfill, cancel cancels the queued runs only, and reads by partition."""

from __future__ import annotations

import time

import pytest
from store_kit import BackendSuite, OnPostgres, OnSqlite, ev, new_run_id

from legato.errors import BackfillNotFoundError
from legato.store import queue
from legato.store.backfills import (
    BackfillRecord,
    BackfillStatus,
    cancel_backfill,
    create_backfill,
    enqueue_partitions,
    finish_backfill,
    get_backfill,
    list_backfills,
    partitions_with_status,
    run_counts,
)
from legato.store.sql_store import SqlStore


def _backfill(backfill_id: str, *, at: float | None = None) -> BackfillRecord:
    return BackfillRecord(backfill_id=backfill_id, kind="assets", target="days",
                          spec={"selection": ["days"], "first": "2020-01-01",
                                "last": "2020-01-09"},
                          status=BackfillStatus.RUNNING, max_concurrent=2, total=9,
                          cursor=None, created_at=time.time() if at is None else at)


def _requests(backfill_id: str, keys: list[str]) -> list[object]:
    return [queue.queued_event(new_run_id(), kind="assets", target="days", params={},
                               source=None, selection=["days"], partition_key=key,
                               backfill_id=backfill_id, trigger_key=f"backfill:{backfill_id}",
                               idempotency_key=f"backfill:{backfill_id}@{key}")
            for key in keys]


class BackfillConformance(BackendSuite):
    def test_rows_round_trip_and_are_found_by_prefix_or_last(self, store: SqlStore) -> None:
        create_backfill(store, _backfill("aaa111", at=1.0))
        create_backfill(store, _backfill("aab222", at=2.0))
        assert get_backfill(store, "aaa").backfill_id == "aaa111"
        assert get_backfill(store, "last").backfill_id == "aab222"
        assert get_backfill(store, "aaa111") == _backfill("aaa111", at=1.0)
        with pytest.raises(BackfillNotFoundError, match="more than one backfill"):
            get_backfill(store, "aa")
        with pytest.raises(BackfillNotFoundError, match="no backfill"):
            get_backfill(store, "zzz")
        assert [b.backfill_id for b in list_backfills(store)] == ["aab222", "aaa111"]

    def test_the_cursor_moves_compare_and_set_with_its_runs(self, store: SqlStore) -> None:
        create_backfill(store, _backfill("b1"))
        assert enqueue_partitions(store, "b1", None, "2020-01-02",
                                  _requests("b1", ["2020-01-01", "2020-01-02"]))
        # a second driver that read the same cursor writes nothing
        assert not enqueue_partitions(store, "b1", None, "2020-01-02",
                                      _requests("b1", ["2020-01-01", "2020-01-02"]))
        assert get_backfill(store, "b1").cursor == "2020-01-02"
        assert run_counts(store, "b1") == {"queued": 2}
        # the same partition is never enqueued twice by one backfill
        assert enqueue_partitions(store, "b1", "2020-01-02", "2020-01-03",
                                  _requests("b1", ["2020-01-02", "2020-01-03"]))
        assert run_counts(store, "b1") == {"queued": 3}

    def test_cancel_cancels_queued_runs_and_ends_the_backfill(self, store: SqlStore) -> None:
        create_backfill(store, _backfill("c1"))
        enqueue_partitions(store, "c1", None, "2020-01-03",
                           _requests("c1", ["2020-01-01", "2020-01-02", "2020-01-03"]))
        [running] = queue.claim(store, "worker", 60)
        assert cancel_backfill(store, "c1", "canceled by the user") == 2
        assert cancel_backfill(store, "c1", "again") is None
        record = get_backfill(store, "c1")
        assert record.status == "canceled" and record.error == "canceled by the user"
        assert run_counts(store, "c1") == {"canceled": 2, "running": 1}
        assert list(partitions_with_status(store, "c1", ["canceled"])) == [
            "2020-01-02", "2020-01-03"]
        assert running.partition_key == "2020-01-01"
        assert not enqueue_partitions(store, "c1", "2020-01-03", "2020-01-04",
                                      _requests("c1", ["2020-01-04"]))
        assert not finish_backfill(store, "c1", BackfillStatus.COMPLETED)

    def test_materializations_by_partition(self, store: SqlStore) -> None:
        for at, key in ((1.0, "2020-01-01"), (2.0, "2020-01-02"), (3.0, "2020-01-01")):
            run_id = new_run_id()
            store.commit([
                ev(run_id, "run_started", at, kind="assets", target="days", params={},
                   tags=[], source=None, partition_key=key),
                ev(run_id, "asset_materialized", at, "days", 1, materialization_id=run_id,
                   asset_key="days", code_version="c", data_version="d", value_id=run_id,
                   upstream={}, partition_key=key),
            ])
        newest = store.latest_materialization("days", "2020-01-01")
        assert newest is not None and newest.created_at == 3.0
        found = store.latest_partition_materializations(
            "days", ["2020-01-01", "2020-01-02", "2020-01-03"])
        assert sorted(found) == ["2020-01-01", "2020-01-02"]
        assert found["2020-01-01"].created_at == 3.0
        assert store.partition_counts() == {"days": 2}
        assert store.get_run("last").partition_key == "2020-01-01"


class TestSqliteBackfills(OnSqlite, BackfillConformance):
    pass


class TestPostgresBackfills(OnPostgres, BackfillConformance):
    pass
