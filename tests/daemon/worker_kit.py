"""Helpers of the worker tests: a project whose flows record what they do, workers run in
this process or as ``legato worker`` processes, and what the store says about the runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from legato.daemon.worker import Worker
from legato.settings import Settings
from legato.store import schema
from legato.store.queue import enqueue, queued_event
from legato.store.records import RunRecord, RunStatus
from legato.store.sql_store import SqlStore

SRC = Path(__file__).resolve().parents[2] / "src"
TIMEOUT_S = 120.0

FLOWS = '''
import os
import time
from pathlib import Path

import legato as lg

LEDGER = Path(__file__).with_name("ledger.txt")


def note(what):
    with LEDGER.open("a") as ledger:
        ledger.write(f"{what} {os.getpid()} {time.time()}\\n")


@lg.task
def touch(x: int) -> int:
    return x


@lg.flow
def noop(x: int = 0) -> int:
    return touch(x)


@lg.task
def first(label: str) -> str:
    note(f"first:{label}")
    return label


@lg.task
def nap(label: str, seconds: float) -> str:
    note(f"nap-start:{label}")
    deadline = time.time() + seconds
    while time.time() < deadline:
        gate = Path(__file__).with_name("open-" + label)
        if gate.exists():
            break
        time.sleep(0.01)
    note(f"nap-end:{label}")
    return label


@lg.flow
def sleepy(label: str, seconds: float = 30.0) -> str:
    first(label)
    return nap(label, seconds)


@lg.task
def hold(label: str, seconds: float) -> str:
    note(f"hold-start:{label}")
    time.sleep(seconds)
    note(f"hold-end:{label}")
    return label


@lg.flow
def limited(label: str, seconds: float = 0.02) -> str:
    return hold(label, seconds)
'''


def write_flows(folder: Path) -> Path:
    path = folder / "flows.py"
    path.write_text(FLOWS)
    return path


def queue(store: SqlStore, flows: Path, target: str, params_list: list[dict[str, Any]], *,
          tags: list[str] | None = None, priority: int = 0) -> list[str]:
    """Enqueue one run of ``target`` per parameters; their ids."""
    from legato.engine.session import new_run_id

    events = [queued_event(new_run_id(), kind="flow", target=target, params=params,
                           source=f"file:{flows}", tags=tags or [], priority=priority)
              for params in params_list]
    for start in range(0, len(events), 500):
        assert all(enqueue(store, events[start:start + 500]))
    return [e.run_id for e in events]


def statuses(store: SqlStore, run_ids: list[str]) -> dict[str, RunRecord]:
    wanted = set(run_ids)
    runs = store.list_runs(limit=100_000)
    return {r.run_id: r for r in runs if r.run_id in wanted}


def count_by_status(store: SqlStore) -> Counter[str]:
    runs = schema.runs
    rows = store.read(select(runs.c.status, func.count()).group_by(runs.c.status))
    return Counter({str(status): int(n) for status, n in rows})


def event_counts(store: SqlStore, kind: str) -> Counter[str]:
    """How many events of ``kind`` each run has."""
    events = schema.events
    rows = store.read(select(events.c.run_id, func.count())
                      .where(events.c.kind == kind).group_by(events.c.run_id))
    return Counter({run_id: int(n) for run_id, n in rows})


def settled(store: SqlStore) -> Callable[[], bool]:
    """True once no run is queued or running."""
    def check() -> bool:
        counts = count_by_status(store)
        return not counts[RunStatus.QUEUED] and not counts[RunStatus.RUNNING]

    return check


def work_until(worker: Worker, until: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    """Run ``worker`` in this thread until ``until()`` (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout

    def done() -> bool:
        assert time.monotonic() < deadline, "the worker did not finish in time"
        return until()

    worker.run(threading.Event(), until=done)


def spawn_worker(project: Path, settings: Settings, *args: str,
                 env_extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``legato worker`` in a process of its own, on the same store as ``settings``
    (``env_extra``: more variables, e.g. other ``LEGATO_*`` settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LEGATO_HOME": str(settings.home_dir),
        "LEGATO_LEASE_TTL": str(settings.lease_ttl),
        "COLUMNS": "200",
        **(env_extra or {}),
    })
    if settings.database_url:
        env["LEGATO_DATABASE_URL"] = settings.database_url
    if settings.run_concurrency:
        import json

        env["LEGATO_RUN_CONCURRENCY"] = json.dumps(settings.run_concurrency)
    return subprocess.Popen(
        [sys.executable, "-m", "legato.cli.main", "worker", *args], cwd=project, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def backend_settings(project: Path, backend: str, request: Any,
                     **overrides: Any) -> Settings:
    """Settings of a project on ``backend`` (``sqlite``, or ``postgres``: the test's own
    PostgreSQL schema, from the ``postgres_url`` fixture)."""
    url = None if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))
    return Settings(home=project / ".legato", database_url=url, **overrides)


def stop_workers(workers: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    """SIGTERM each worker still running; (exit code, stderr) of each."""
    for child in workers:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    ended = []
    for child in workers:
        _, err = child.communicate(timeout=60)
        ended.append((child.returncode, err))
    return ended


def ledger(project: Path) -> list[tuple[str, int, float]]:
    """(what, pid, at) for each line the flows noted."""
    path = project / "ledger.txt"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        what, pid, at = line.split(" ")
        rows.append((what, int(pid), float(at)))
    return rows


def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT_S,
             every: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)
