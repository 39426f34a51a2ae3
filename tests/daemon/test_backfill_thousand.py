"""A backfill of 1,000 daily partitions, four at a time: every partition succeeds, no
more than four bodies ever run at once, and when the process driving it is killed
mid-way, resuming it runs no finished partition again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.daemon.backfill_kit import (
    assets_module,
    days_from,
    executions,
    max_overlap,
    read_log,
)

import legato as lg
from legato.daemon.backfill_driver import drive_backfill
from legato.store import schema
from legato.store.backfills import list_backfills
from legato.store.sql_store import SqlStore

N = 1000
LIMIT = 4
KILL_AFTER = 300


def test_a_thousand_partitions_within_the_limit_and_resumed_after_a_kill(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    days = days_from("2020-01-01", N)
    log = project / "log.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(BACKFILL_LOG=str(log), BODY_S="0.002")
    started = time.monotonic()
    driver = subprocess.Popen(
        [sys.executable, "-m", "legato.cli.main", "backfill", "bf_assets.py", "days",
         "--from", days[0], "--to", days[-1], "--max-concurrent", str(LIMIT)],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with assets_module(project, monkeypatch):
        try:
            deadline = time.monotonic() + 60
            while len(read_log(log)) < KILL_AFTER:
                assert driver.poll() is None, driver.stderr.read() if driver.stderr else ""
                assert time.monotonic() < deadline, "the backfill made no progress"
                time.sleep(0.02)
        finally:
            driver.kill()  # SIGKILL: no chance to clean up
            driver.communicate()  # and close its pipe
        killed_at = time.time()
        settings = lg.Settings(home=project / ".legato", executor="threads")
        with SqlStore(settings.store_url) as store:
            [backfill] = list_backfills(store)
            finished_before = {r.partition_key for r in store.read(
                schema.runs.select().where(schema.runs.c.backfill_id == backfill.backfill_id,
                                           schema.runs.c.status == "succeeded"))}
        assert KILL_AFTER - LIMIT <= len(finished_before) < N  # bodies log before commits
        assert backfill.total == N and backfill.status == "running"

        resumed = time.monotonic()
        defs = lg.load(str(project / "bf_assets.py"))
        progress = drive_backfill(settings, backfill.backfill_id, defs, slots=2 * LIMIT)
        took, total_took = time.monotonic() - resumed, time.monotonic() - started

    assert progress.status == "completed", progress
    assert (progress.succeeded, progress.failed, progress.total) == (N, 0, N)
    rows = read_log(log)
    counts = executions(rows)
    assert set(counts) == set(days)  # every partition ran
    again = {key for key in finished_before if counts[key] > 1}
    assert again == set(), f"finished partitions ran again after the resume: {again}"
    # only the partitions in flight when the process was killed may run twice
    assert sum(counts.values()) - N <= LIMIT
    assert max_overlap((start, end) for _, start, end in rows) <= LIMIT
    with SqlStore(settings.store_url) as store:
        runs = store.read(schema.runs.select().where(
            schema.runs.c.backfill_id == backfill.backfill_id))
    assert len(runs) == N and len({r.partition_key for r in runs}) == N  # one run each
    assert max_overlap((r.started_at, r.ended_at) for r in runs
                       if r.started_at > killed_at) <= LIMIT
    print(f"\n1,000 partitions: {total_took:.1f}s in all, {took:.1f}s for the "
          f"{N - len(finished_before)} left after the kill")
    assert took < 60
