"""Scheduler processes (``legato scheduler``) killed and restarted.

- PostgreSQL: three schedulers, active at once, randomly SIGKILLed (or stopped) and
  restarted for 60 s (``pytest --scheduler-seconds 600``, or ``LEGATO_SCHEDULER_SECONDS``),
  over 20 schedules every second (``catch_up="all"``) and a sensor whose cursor counts
  its evaluations. Then: each tick of each schedule made exactly one run, none missing
  between the first and the last; the sensor's run keys are 1..N, none twice (its cursor
  was saved with its runs, once); no tick was recorded as skipped or failed; no
  scheduler died by itself, and their stderr holds no traceback.
- SQLite: a second scheduler sees the first, stands by, and takes over when the first
  is killed (a dead process of this host: at once); no tick is lost on the way. (Waiting
  for the lease of a scheduler on another host to expire: test_scheduler_loop.)
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scheduler_kit import (
    SchedulerProcess,
    child_env,
    grid,
    queued_runs,
    ticks,
    wait_for,
)

from legato.store.sql_store import SqlStore
from legato.store.triggers import daemon_holder, list_ticks

SCHEDULES = 20

DEFS = f'''
import legato as lg


@lg.flow
def work(i: int = 0) -> int:
    return i


schedules = [lg.schedule(work, lg.every("1s", catch_up="all", params={{"i": i}}),
                         name=f"every_{{i:02d}}") for i in range({SCHEDULES})]


@lg.sensor(interval="1s", flow=work)
def poll(ctx):
    n = int(ctx.cursor or 0) + 1
    ctx.cursor = str(n)
    return lg.RunRequest(run_key=f"poll-{{n}}", params={{"i": n}})


defs = lg.Definitions(flows=[work], schedules=schedules, sensors=[poll])
'''


def _seconds(config: pytest.Config) -> float:
    given = config.getoption("scheduler_seconds")
    return float(given if given is not None
                 else os.environ.get("LEGATO_SCHEDULER_SECONDS", "60"))


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "defs.py").write_text(DEFS)
    return tmp_path


@pytest.fixture
def processes() -> Iterator[list[SchedulerProcess]]:
    started: list[SchedulerProcess] = []
    yield started
    for proc in started:
        if proc.alive:
            proc.kill()


@pytest.mark.slow
@pytest.mark.postgres
def test_three_schedulers_killed_at_random_make_each_tick_run_once(
        project_dir: Path, postgres_url: str, processes: list[SchedulerProcess],
        request: pytest.FixtureRequest) -> None:
    seconds = _seconds(request.config)
    rng = random.Random(int(os.environ.get("LEGATO_SCHEDULER_SEED", "0")) or None)
    env = child_env(project_dir, database_url=postgres_url, scheduler_tick="0.25")
    SqlStore(postgres_url).close()  # create the schema once, before the racing starts
    processes.extend(SchedulerProcess(project_dir, str(i), "defs.py", env) for i in range(3))
    for proc in processes:
        proc.start()
    kills = stops = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(0.5, 2.5))
        for proc in processes:  # a scheduler never ends by itself (no crash loop)
            assert proc.alive, f"scheduler {proc.name} exited by itself:\n{proc.stderr()}"
        victim = rng.choice(processes)
        if rng.random() < 0.8:
            victim.kill()
            kills += 1
        else:  # a clean stop (or, while it still starts, SIGTERM's default: the end)
            assert victim.stop() in (0, -signal.SIGTERM), victim.stderr()
            stops += 1
        time.sleep(rng.uniform(0.0, 1.0))
        victim.start()
    time.sleep(3)  # let the last restarts catch up
    end = time.time()
    for proc in processes:
        assert proc.alive, f"scheduler {proc.name} exited by itself:\n{proc.stderr()}"
        assert proc.stop() == 0, proc.stderr()
    assert kills + stops >= seconds / 4

    with SqlStore(postgres_url) as store:
        for i in range(SCHEDULES):
            key = f"schedule:every_{i:02d}"
            runs = queued_runs(store, key)
            keys = sorted(run.tick_key for run in runs)
            assert len(keys) == len(set(keys)), f"{key}: a tick ran twice"
            assert keys == grid(keys[0], keys[-1]), f"{key}: ticks are missing"
            assert len(keys) >= seconds - 10, f"{key}: only {len(keys)} ticks in {seconds}s"
            last = time.mktime(time.strptime(keys[-1], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
            assert end - last < 5, f"{key}: it fell behind (last tick {keys[-1]})"
            assert [r.params for r in runs[:1]] == [{"i": i}]
        polls = queued_runs(store, "sensor:poll")
        numbers = sorted(int(run.tick_key.removeprefix("poll-")) for run in polls)
        assert numbers == list(range(1, len(numbers) + 1)), "the sensor's cursor slipped"
        assert len(numbers) >= seconds / 2
        history = list_ticks(store, limit=1_000_000)
        bad = [t for t in history if t.status != "requested"]
        assert bad == [], f"ticks not requested: {bad[:5]}"
        assert len(history) == len(queued_runs(store))
    for proc in processes:
        assert "Traceback" not in proc.stderr(), proc.stderr()
    print(f"{kills} kills, {stops} stops over {seconds:g}s; "
          f"{len(history)} runs requested")


@pytest.mark.slow
def test_on_sqlite_a_second_scheduler_stands_by_and_takes_over(
        project_dir: Path, processes: list[SchedulerProcess]) -> None:
    env = child_env(project_dir, scheduler_tick="0.2", lease_ttl="2")
    url = f"sqlite:///{project_dir / '.legato' / 'legato.db'}"
    first, second = (SchedulerProcess(project_dir, name, "defs.py", env)
                     for name in ("first", "second"))
    processes.extend([first, second])
    first.start()
    SqlStore(url).close()

    def holder_pid() -> int | None:
        with SqlStore(url) as store:
            holder = daemon_holder(store, "scheduler")
        return int(holder[0].split(":")[1]) if holder else None

    wait_for(lambda: holder_pid() == first.pid, 30, "the first scheduler to be active")
    second.start()
    wait_for(lambda: "standing by" in second.stderr(), 30, "the second to stand by")
    assert "another scheduler" in second.stderr()
    with SqlStore(url) as store:
        wait_for(lambda: len(queued_runs(store, "schedule:every_00")) >= 2, 30,
                 "runs from the first")
    first.kill()  # a process of this host that died: no need to wait for its lease
    wait_for(lambda: holder_pid() == second.pid, 30, "the second to take over")
    assert "has died: taking over" in " ".join(second.stderr().split())  # lines wrap
    with SqlStore(url) as store:
        count = len(queued_runs(store, "schedule:every_00"))
        wait_for(lambda: len(queued_runs(store, "schedule:every_00")) >= count + 2, 30,
                 "runs from the second")
    assert second.stop() == 0
    assert holder_pid() is None  # a clean stop releases the lease
    with SqlStore(url) as store:
        keys = sorted(run.tick_key for run in queued_runs(store, "schedule:every_00"))
        assert keys == grid(keys[0], keys[-1])  # the takeover lost no tick
        assert ticks(store, "schedule:every_00", "skipped") == []
    assert "is active" in second.stderr()
    assert "Traceback" not in first.stderr() + second.stderr()
