"""``Server``: the scheduler and a worker in one process. A tick's run starts at once (the
scheduler wakes the worker), and a scheduler that dies stops the worker too."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import legato as lg
from legato.daemon.serve import Server
from legato.daemon.worker import RunEnd
from legato.errors import StoreError
from legato.scheduler.timezones import parse_instant
from legato.store.sql_store import SqlStore

PROJECT = '''
import legato as lg


@lg.task
def first(n: int) -> int:
    return n


@lg.flow(schedule=lg.every("1s", catch_up="none", params={"n": 1}))
def heartbeat(n: int) -> int:
    return first(n)
'''


def test_a_tick_starts_its_first_step_within_the_target(project: Path) -> None:
    (project / "pipelines.py").write_text(PROJECT)
    settings = lg.Settings(home=project / ".legato")
    stop = threading.Event()
    ends: list[RunEnd] = []

    def ended(end: RunEnd) -> None:
        ends.append(end)
        if len(ends) == 3:
            stop.set()

    server = Server(settings, lg.load(str(project / "pipelines.py")), on_run_end=ended)
    thread = threading.Thread(target=server.run, args=(stop,))
    thread.start()
    thread.join(30)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    assert [e.status for e in ends] == ["succeeded"] * 3
    with SqlStore(settings.store_url) as store:
        for end in ends:
            run = store.get_run(end.run_id)
            assert run.idempotency_key is not None
            tick = parse_instant(run.idempotency_key.rpartition("@")[2]).timestamp()
            started = store.get_steps(run.run_id)[0].started_at
            assert started is not None
            # the target is 100 ms (benchmarks/serve_latency.py measures ~4 ms); a loaded
            # CI machine gets ten times that, still far below the worker's idle polling
            # plus a scheduler pass without the wake-up
            assert 0 <= started - tick < 1.0


def test_a_scheduler_that_fails_stops_the_worker(project: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "pipelines.py").write_text(PROJECT)
    settings = lg.Settings(home=project / ".legato")
    server = Server(settings, lg.load(str(project / "pipelines.py")))

    def broken(self: object, stop: threading.Event, **_: object) -> None:
        raise StoreError("the store went away for good")

    monkeypatch.setattr("legato.daemon.scheduler.Scheduler.run", broken)
    stop = threading.Event()
    with pytest.raises(StoreError, match="went away"):
        server.run(stop)
    assert stop.is_set()
