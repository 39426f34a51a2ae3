"""Helpers for the scheduler tests: a clock the test moves, schedulers on a store, and what
the store holds (queued runs, ticks) read back plainly."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from legato.daemon.scheduler import Scheduler
from legato.definitions.definitions import Definitions
from legato.scheduler.timezones import UTC
from legato.settings import Settings
from legato.store import schema
from legato.store.sql_store import SqlStore
from legato.store.triggers import TickRecord, list_ticks, read_triggers

T0 = dt.datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


class Clock:
    """The instant the scheduler sees; the test moves it."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def scheduler(settings: Settings, defs: Definitions, clock: Clock, **kwargs: Any) -> Scheduler:
    return Scheduler(settings, defs, clock=clock, **kwargs)


@dataclass(frozen=True)
class QueuedRun:
    run_id: str
    trigger_key: str | None
    idempotency_key: str | None
    kind: str
    target: str
    params: dict[str, Any]
    status: str

    @property
    def tick_key(self) -> str:
        assert self.idempotency_key is not None
        return self.idempotency_key.partition("@")[2]


def queued_runs(store: SqlStore, trigger_key: str | None = None) -> list[QueuedRun]:
    """The runs triggers requested, oldest first."""
    runs = schema.runs
    query = select(runs).order_by(runs.c.created_at, runs.c.run_id)
    if trigger_key is not None:
        query = query.where(runs.c.trigger_key == trigger_key)
    return [QueuedRun(row.run_id, row.trigger_key, row.idempotency_key, row.kind, row.target,
                      json.loads(row.params), row.status) for row in store.read(query)]


def tick_keys(store: SqlStore, trigger_key: str) -> list[str]:
    """The tick keys of a trigger's runs, in order."""
    return [run.tick_key for run in queued_runs(store, trigger_key)]


def ticks(store: SqlStore, trigger_key: str, status: str | None = None) -> list[TickRecord]:
    """A trigger's tick history, oldest first."""
    found = list(reversed(list_ticks(store, trigger_key, limit=10_000)))
    return [t for t in found if status is None or t.status == status]


def cursor(store: SqlStore, trigger_key: str) -> str | None:
    state = read_triggers(store).get(trigger_key)
    return state.cursor if state else None


def materialized(store: SqlStore, asset_key: str, materialization_id: str, at: float) -> None:
    """A materialization row, as the engine would have committed it."""
    with store.engine.begin() as connection:
        connection.execute(insert(schema.materializations).values(
            materialization_id=materialization_id, asset_key=asset_key, run_id="r" * 16,
            step_key=asset_key, created_at=at, code_version="c", data_version="d",
            value_id="v", upstream="{}"))


def minutes(start: dt.datetime, *offsets: int) -> list[str]:
    """Tick keys ``start + n minutes``."""
    return [(start + dt.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ") for n in offsets]


# -- scheduler processes ------------------------------------------------------------------


class SchedulerProcess:
    """``legato scheduler FILE.py`` in a child process; its output goes to files that
    outlive restarts (``stdout.log``, ``stderr.log`` in its folder)."""

    def __init__(self, project: Path, name: str, defs_file: str, env: dict[str, str]) -> None:
        self.project = project
        self.name = name
        self.defs_file = defs_file
        self.env = env
        self.folder = project / f"proc-{name}"
        self.folder.mkdir(exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with (self.folder / "stdout.log").open("ab") as out, \
                (self.folder / "stderr.log").open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "legato.cli.main", "scheduler", self.defs_file],
                cwd=self.project, env=self.env, stdout=out, stderr=err)
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, and its exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def stderr(self) -> str:
        return (self.folder / "stderr.log").read_text(errors="replace")

    def stdout(self) -> str:
        return (self.folder / "stdout.log").read_text(errors="replace")


def child_env(project: Path, **settings: str) -> dict[str, str]:
    """The environment of a scheduler process: this one's, with LEGATO_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env["LEGATO_HOME"] = str(project / ".legato")
    env.update({f"LEGATO_{k.upper()}": v for k, v in settings.items()})
    return env


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def grid(first: str, last: str, seconds: int = 1) -> list[str]:
    """The tick keys from ``first`` to ``last``, every ``seconds``."""
    start = dt.datetime.strptime(first, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    end = dt.datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    keys = []
    while start <= end:
        keys.append(start.strftime("%Y-%m-%dT%H:%M:%SZ"))
        start += dt.timedelta(seconds=seconds)
    return keys
