"""Helpers of the durability tests: run ``durable_child.py`` in a child process, kill it,
resume the run, and check the invariants of the durability contract on what the store and
the side-effect ledger hold afterwards."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import durable_child
from sqlalchemy import select

from legato.store import schema
from legato.store.records import Event, RunStatus, StepStatus
from legato.store.sql_store import SqlStore
from legato.values.value_store import ValueStore

CHILD = Path(__file__).with_name("durable_child.py")
TIMEOUT_S = 120.0


@dataclass
class Place:
    """Where one test's runs live: its store (SQLite in ``home`` unless ``url``), values and
    ledger."""

    home: Path
    url: str | None

    @property
    def ledger(self) -> Path:
        return self.home / "ledger.txt"

    @property
    def store_url(self) -> str:
        return self.url or f"sqlite:///{self.home / 'legato.db'}"

    def args(self) -> list[str]:
        return ["--url", self.url] if self.url else []


def spawn(place: Place, *args: str, fault: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if fault:
        env["LEGATO_FAULT"] = fault
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args, *place.args()], cwd=place.home, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start(place: Place, kind: str = "flow", *extra: str, fault: str | None = None
          ) -> subprocess.Popen[str]:
    return spawn(place, "start", kind, str(place.home), str(place.ledger), *extra,
                 fault=fault)


def resume(place: Place, run_id: str, *extra: str, fault: str | None = None
           ) -> subprocess.Popen[str]:
    return spawn(place, "resume", run_id, str(place.home), *extra, fault=fault)


def finish(child: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    """Wait for a child; its exit code, its last JSON line, and its stderr."""
    out, err = child.communicate(timeout=TIMEOUT_S)
    lines = out.strip().splitlines()
    last = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return child.returncode, last, err


def ledger_lines(place: Place) -> int:
    try:
        return place.ledger.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def kill_when(child: subprocess.Popen[str], place: Place, lines: int, extra_s: float) -> bool:
    """SIGKILL the child once the ledger has ``lines`` lines, ``extra_s`` later; False if it
    ended first."""
    while ledger_lines(place) < lines:
        if child.poll() is not None:
            return False
        time.sleep(0.001)
    time.sleep(extra_s)
    if child.poll() is not None:
        return False
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=TIMEOUT_S)
    return True


def run_ids(place: Place) -> list[str]:
    with SqlStore(place.store_url) as store:
        return [r.run_id for r in store.list_runs(limit=100)]


@dataclass(frozen=True)
class LedgerRow:
    step_key: str
    attempt: int
    pid: int
    at: float


def read_ledger(place: Place) -> list[LedgerRow]:
    rows = []
    for line in place.ledger.read_text().splitlines():
        key, attempt, pid, at = line.split(" ")
        rows.append(LedgerRow(key, int(attempt), int(pid), float(at)))
    return rows


def flow_upstream() -> dict[str, list[str]]:
    """What each step of the 50-step flow waits for (its inputs, or the call before it)."""
    up: dict[str, list[str]] = {"link": []}
    keys = ["link"] + [f"link-{i}" for i in range(2, durable_child.CHAIN + 1)]
    for before, key in itertools.pairwise(keys):
        up[key] = [before]
    up["flaky"] = [keys[-1]]
    squares = [f"square[{i}]" for i in range(durable_child.FANOUT)]
    for key in squares:
        up[key] = ["flaky"]
    up["total"] = ["flaky", *squares]
    up["finish"] = ["total"]
    return up


def assets_upstream() -> dict[str, list[str]]:
    up: dict[str, list[str]] = {"a0": []}
    for i in range(1, durable_child.CHAIN):
        up[f"a{i}"] = [f"a{i - 1}"]
    up["flaky_asset"] = [f"a{durable_child.CHAIN - 1}"]
    parts = [f"b{i}" for i in range(durable_child.FANOUT)]
    for key in parts:
        up[key] = ["flaky_asset"]
    up["assets_total"] = ["flaky_asset", *parts]
    up["assets_finish"] = ["assets_total"]
    return up


def check_invariants(place: Place, run_id: str, kind: str = "flow") -> list[Event]:
    """The durability contract, on a run that was killed and resumed (any number of times).
    Returns the run's events."""
    upstream = flow_upstream() if kind == "flow" else assets_upstream()
    flaky = "flaky" if kind == "flow" else "flaky_asset"
    ledger = read_ledger(place)
    with SqlStore(place.store_url) as store:
        run = store.get_run(run_id)
        steps = {s.step_key: s for s in store.get_steps(run_id)}
        events = store.get_events(run_id)
        with store.engine.connect() as connection:
            values = list(connection.execute(select(schema.stored_values)))
        # the run reached its end, and every step succeeded
        assert run.status == RunStatus.SUCCEEDED, (run.status, run.error)
        assert set(steps) == set(upstream), set(steps) ^ set(upstream)
        assert {s.status for s in steps.values()} == {StepStatus.SUCCEEDED}
        # exactly one successful attempt per step, and its value can be read
        successes = {e.step_key: e for e in events if e.kind == "step_succeeded"}
        assert Counter(e.step_key for e in events if e.kind == "step_succeeded") == \
            Counter(set(upstream))
        reader = ValueStore(place.home / "values")
        for key, step in steps.items():
            stored = store.get_value(step.value_id or "")
            assert stored is not None, key
            reader.get(stored)  # raises if the file is missing or damaged
        if kind == "flow":
            assert run.output_value_id is not None
            output = store.get_value(run.output_value_id)
            assert output is not None
            assert reader.get(output) == durable_child.expected_output()
    # no torn or replaced file behind a committed value
    for row in values:
        if row.uri:
            data = Path(row.uri).read_bytes()
            assert hashlib.sha256(data).hexdigest() == row.digest, row.uri
    # no step started before its upstream's success was committed
    first_start: dict[str, int] = {}
    for event in events:
        if event.kind == "step_started" and event.step_key not in first_start:
            first_start[event.step_key] = event.event_id or 0
    bodies: defaultdict[str, list[LedgerRow]] = defaultdict(list)
    for row in ledger:
        bodies[row.step_key].append(row)
    for key, ups in upstream.items():
        for up in ups:
            assert first_start[key] > (successes[up].event_id or 0), (key, up)
            for body in bodies[key]:
                assert body.at > successes[up].at, (key, "ran before", up, "committed")
    # no step whose success was committed ran again; every committed attempt did run
    for key, success in successes.items():
        assert bodies[key], key
        assert all(body.at < success.at for body in bodies[key]), (key, "ran again")
        assert max(body.attempt for body in bodies[key]) == success.attempt, key
    # every committed attempt did run, but one that its process's death cut short (its
    # start was committed; the process may have died before its body began)
    ran = {(row.step_key, row.attempt) for row in ledger}
    for event in events:
        if event.kind in ("step_succeeded", "step_failed") and not event.data.get("crashed"):
            assert (event.step_key, event.attempt) in ran, event
        if event.data.get("crashed"):
            assert event.data["error"].startswith("the process died while running this step")
    # committed successes <= ledger rows (bodies run at least once)
    assert len(successes) <= len(ledger)
    # the retrying step's first two attempts always fail
    assert successes[flaky].attempt >= durable_child.FLAKY_FAILURES + 1
    assert sum(e.kind == "step_failed" and not e.data.get("crashed")
               for e in events) <= durable_child.FLAKY_FAILURES
    if place.url is None:
        assert integrity(place.home / "legato.db") == "ok"
    return events


def integrity(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return ", ".join(str(row[0]) for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()
