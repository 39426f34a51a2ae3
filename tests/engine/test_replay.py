"""Flow replay and resume, in Python: a run killed at a crash point is resumed with
``lg.resume``; the bodies of the tasks whose end was committed do not run again (counted),
their recorded results (values, failures) come back in place; a flow whose calls changed
raises ``NonDeterminismError``; a damaged value makes its step run again, and the event log
says why; bad inputs get clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import legato as lg
from legato.store.sql_store import SqlStore

FLOWS = '''
import asyncio
import os
import legato as lg


def note(ctx):
    with open(os.environ["LEDGER"], "a") as ledger:
        ledger.write(f"{ctx.step_key} {os.getpid()} {ctx.idempotency_key} {ctx.attempt}\\n")


@lg.task(retries=lg.Retry(2, base=0))
def flaky(ctx, x: int) -> int:
    note(ctx)
    if ctx.attempt < 3:
        raise RuntimeError("not yet")
    return x


@lg.task
def fetch(ctx, i: int) -> int:
    note(ctx)
    return i * 10


@lg.task
def parse(ctx, x: int) -> set:
    note(ctx)
    return {x, x + 1}  # pickled: a value file


@lg.task
def broken(ctx, x: int) -> int:
    note(ctx)
    raise ValueError(f"broken {x}")


@lg.flow
def mixed(n: int = 4):
    parts = [parse(fetch(i)) for i in range(n)]
    try:
        broken(1)
        failed = None
    except lg.StepFailed as error:
        failed = error.error
    mapped = [f.result() for f in fetch.map(range(n))]
    return {"parts": sorted(sorted(p) for p in parts), "failed": failed, "mapped": mapped}


@lg.task
async def fetch_async(ctx, i: int) -> int:
    note(ctx)
    await asyncio.sleep(0.001)
    return i + 100


@lg.flow
async def gathered(n: int = 6):
    first = await fetch_async(0)
    rest = await asyncio.gather(*(fetch_async(i) for i in range(1, n)))
    return [first, *rest]
'''

CHANGED = '''
import legato as lg
from replay_flows import fetch, parse


@lg.flow(name="mixed")
def mixed_reordered(n: int = 4):
    first = fetch(0)
    later = fetch(1)  # the run called parse here
    return parse(first) | parse(later)
'''

STEPS_OF_MIXED = 4 * 2 + 1 + 4


@pytest.fixture
def flows(project: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (project / "replay_flows.py").write_text(FLOWS)
    (project / "replay_changed.py").write_text(CHANGED)
    monkeypatch.setenv("LEDGER", str(project / "ledger.txt"))
    monkeypatch.syspath_prepend(str(project))
    import replay_flows

    yield replay_flows
    sys.modules.pop("replay_flows", None)
    sys.modules.pop("replay_changed", None)


@pytest.fixture
def settings_(project: Path) -> lg.Settings:
    return lg.Settings(home=project / ".legato", executor="threads", max_parallel=2)


def crash(project: Path, flow: str, fault: str) -> str:
    """Run ``flow`` in a child process killed at ``fault``; the run's id."""
    script = ("import legato as lg, replay_flows\n"
              f"lg.run(replay_flows.{flow}, settings=lg.Settings(home='.legato', "
              "max_parallel=2))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_FAULT=fault, LEDGER=str(project / "ledger.txt"))
    done = subprocess.run([sys.executable, "-c", script], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == -9, done.stderr
    with SqlStore(f"sqlite:///{project / '.legato' / 'legato.db'}") as store:
        (run,) = store.list_runs()
        return run.run_id


def bodies(project: Path, pid: int | None = None) -> Counter[str]:
    """The bodies that ran (in process ``pid``, or — ``resumed(project)`` — not in the
    crashed one: a step cut short by the crash runs its next attempt in a child process)."""
    lines = (project / "ledger.txt").read_text().splitlines()
    return Counter(fields[0] for fields in (line.split() for line in lines)
                   if pid is None or int(fields[1]) == pid)


def resumed_bodies(project: Path, crashed: set[int]) -> Counter[str]:
    lines = (project / "ledger.txt").read_text().splitlines()
    return Counter(fields[0] for fields in (line.split() for line in lines)
                   if int(fields[1]) not in crashed)


def pids(project: Path) -> set[int]:
    lines = (project / "ledger.txt").read_text().splitlines()
    return {int(line.split()[1]) for line in lines}


def committed(settings: lg.Settings, run_id: str) -> set[str]:
    with SqlStore(settings.store_url) as store:
        return {s.step_key for s in store.get_steps(run_id)
                if s.status in ("succeeded", "failed")}


@pytest.mark.parametrize("after", [1, 5, 9, 11])
def test_resuming_runs_no_body_of_a_finished_task(project: Path, flows: Any,
                                                  settings_: lg.Settings, after: int) -> None:
    run_id = crash(project, "mixed", f"after-commit:{after}")
    crashed = pids(project)
    done_before = committed(settings_, run_id)
    assert len(done_before) >= after
    result = lg.resume(run_id, settings=settings_)
    assert result.ok, result.error
    resumed = resumed_bodies(project, crashed)
    assert result.output == lg.run(flows.mixed, settings=settings_).output
    ran_again = set(resumed) & done_before
    assert ran_again == set(), f"finished tasks ran again: {ran_again}"
    assert set(resumed) | done_before >= {s for s in result.steps}
    # the recorded failure came back as the same StepFailed, without running broken again
    assert result.output["failed"] == "ValueError: broken 1"
    assert len(result.steps) == STEPS_OF_MIXED


def test_an_async_flow_replays_its_gathered_calls(project: Path, flows: Any,
                                                  settings_: lg.Settings) -> None:
    run_id = crash(project, "gathered", "after-commit:3")
    crashed = pids(project)
    done_before = committed(settings_, run_id)
    result = lg.resume(run_id, settings=settings_)
    assert result.ok and result.output == [100, 101, 102, 103, 104, 105], result.error
    assert not set(resumed_bodies(project, crashed)) & done_before


def test_reordered_calls_raise_and_the_run_restarts_from_scratch(
        project: Path, flows: Any, settings_: lg.Settings) -> None:
    run_id = crash(project, "mixed", "after-commit:3")
    import replay_changed

    with pytest.raises(lg.NonDeterminismError) as changed:
        lg.resume(run_id, settings=settings_, definitions=replay_changed.mixed_reordered)
    line = CHANGED.splitlines().index("    later = fetch(1)  # the run called parse here") + 1
    assert changed.value.call_site == f"{project / 'replay_changed.py'}:{line}"
    assert "call #2 is a call of 'fetch' (step 'fetch-2'), but the run recorded a call of " \
        "'parse' (step 'parse') there" in str(changed.value)
    assert "lg.resume(run_id, restart=True)" in (changed.value.hint or "")
    with SqlStore(settings_.store_url) as store:
        run = store.get_run(run_id)
        assert run.status == "failed" and "NonDeterminismError" in (run.error or "")
        assert {s.status for s in store.get_steps(run_id)} <= {"succeeded", "canceled"}
    restarted = lg.resume(run_id, settings=settings_, restart=True)
    assert restarted.ok and restarted.run_id != run_id
    assert restarted.output == lg.run(flows.mixed, settings=settings_).output


def test_a_damaged_value_makes_its_step_run_again(project: Path, flows: Any,
                                                  settings_: lg.Settings) -> None:
    run_id = crash(project, "mixed", "after-commit:6")
    with SqlStore(settings_.store_url) as store:
        parse_step = next(s for s in store.get_steps(run_id) if s.step_key == "parse")
        stored = store.get_value(parse_step.value_id or "")
    assert stored is not None and stored.uri is not None
    Path(stored.uri).write_bytes(b"not a pickle any more")
    result = lg.resume(run_id, settings=settings_)
    assert result.ok, result.error
    assert result.output["parts"][0] == [0, 1]
    assert bodies(project, os.getpid())["parse"] == 1  # it ran again, once
    with SqlStore(settings_.store_url) as store:
        events = store.get_events(run_id)
        step = next(s for s in store.get_steps(run_id) if s.step_key == "parse")
    reset = [e for e in events if e.kind == "step_reset"]
    assert [e.step_key for e in reset] == ["parse"]
    assert "its value could not be loaded, so it runs again" in reset[0].data["reason"]
    assert "is damaged (its checksum differs)" in reset[0].data["reason"]
    assert step.status == "succeeded" and step.value_id == f"{run_id}/parse@2"
    assert [e.attempt for e in events if e.step_key == "parse" and e.kind == "step_started"] \
        == [1, 2]


def test_resuming_a_run_that_ended_returns_it_unchanged(flows: Any,
                                                         settings_: lg.Settings) -> None:
    first = lg.run(flows.mixed, settings=settings_)
    with SqlStore(settings_.store_url) as store:
        before = len(store.get_events(first.run_id))
    again = lg.resume(first.run_id, settings=settings_)
    assert (again.run_id, again.status, again.output) == (first.run_id, "succeeded",
                                                          first.output)
    assert set(again.steps) == set(first.steps)
    with SqlStore(settings_.store_url) as store:
        assert len(store.get_events(first.run_id)) == before


def test_an_unknown_run(settings_: lg.Settings) -> None:
    with pytest.raises(lg.RunNotFoundError, match="no run matches 'nope'"):
        lg.resume("nope", settings=settings_)


def test_a_run_started_with_definitions_built_in_code(project: Path,
                                                      settings_: lg.Settings) -> None:
    @lg.task
    def step() -> int:
        return 1

    @lg.flow
    def local() -> None:
        step()

    run = lg.run(local, settings=settings_)
    with SqlStore(settings_.store_url) as store:  # as if its process had died mid-way
        store.engine.dispose()
        with store.engine.begin() as connection:
            from sqlalchemy import text

            connection.execute(text("UPDATE runs SET status='running', source=NULL, "
                                    "lease_expires_at=0"))
    with pytest.raises(lg.DefinitionError, match="it did not record where its definitions "
                       "came from") as missing:
        lg.resume(run.run_id, settings=settings_)
    assert "lg.resume(run_id, definitions=...)" in (missing.value.hint or "")
    resumed = lg.resume(run.run_id, settings=settings_, definitions=local)
    assert resumed.ok and resumed.steps["step"].attempts == 1  # replayed, not run


def test_a_run_held_by_a_live_process_is_not_taken_over(flows: Any,
                                                        settings_: lg.Settings) -> None:
    run = lg.run(flows.mixed, settings=settings_)
    with SqlStore(settings_.store_url) as store, store.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(text("UPDATE runs SET status='running', lease_owner=:o, "
                                "lease_expires_at=:t"),
                           {"o": "elsewhere:1:abc", "t": 4e9})
    with pytest.raises(lg.RunInProgressError, match="it is running in process "
                       "elsewhere:1:abc, whose lease holds") as held:
        lg.resume(run.run_id, settings=settings_)
    assert "wait=True" in (held.value.hint or "")


def test_a_worker_resumes_the_runs_whose_process_died(project: Path, flows: Any,
                                                      settings_: lg.Settings) -> None:
    from legato.engine.resume import resume_expired
    from legato.engine.runner import Runner

    crashed = {crash(project, "mixed", "after-commit:4")}
    with SqlStore(settings_.store_url) as store, store.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(text("UPDATE runs SET lease_owner='gone:1:a', lease_expires_at=1"))
    crashed.add(crash_again(project))
    done = lg.run(flows.mixed, settings=settings_)
    results = resume_expired(Runner(settings_))
    assert {r.run_id for r in results} == crashed  # the expired one, and the dead one's
    assert all(r.ok for r in results)
    assert resume_expired(Runner(settings_)) == []
    assert lg.resume(done.run_id, settings=settings_).ok


def crash_again(project: Path) -> str:
    """One more crashed run, besides those already in the store."""
    with SqlStore(f"sqlite:///{project / '.legato' / 'legato.db'}") as store:
        known = {r.run_id for r in store.list_runs()}
    script = ("import legato as lg, replay_flows\n"
              "lg.run(replay_flows.mixed, settings=lg.Settings(home='.legato'))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_FAULT="after-commit:2", LEDGER=str(project / "ledger.txt"))
    done = subprocess.run([sys.executable, "-c", script], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == -9, done.stderr
    with SqlStore(f"sqlite:///{project / '.legato' / 'legato.db'}") as store:
        (new,) = {r.run_id for r in store.list_runs()} - known
    return new


def test_the_idempotency_key_is_stable_across_attempts_and_resumes(
        project: Path, flows: Any, settings_: lg.Settings) -> None:
    run_id = crash(project, "mixed", "after-body:3")  # the third body ran; not recorded
    rows = [line.split() for line in (project / "ledger.txt").read_text().splitlines()]
    in_flight = rows[2][0]
    assert lg.resume(run_id, settings=settings_).ok
    rows = [line.split() for line in (project / "ledger.txt").read_text().splitlines()]
    keys = {fields[2] for fields in rows if fields[0] == in_flight}
    assert len([f for f in rows if f[0] == in_flight]) == 2  # it ran again, after the crash
    assert keys == {f"{run_id}:{in_flight}"}
    assert len({fields[2] for fields in rows}) == len({fields[0] for fields in rows})

    @lg.flow
    def retried() -> int:
        return flows.flaky(7)

    result = lg.run(retried, settings=settings_)
    attempts = [line.split() for line in (project / "ledger.txt").read_text().splitlines()
                if line.startswith("flaky ")]
    assert [int(f[3]) for f in attempts] == [1, 2, 3]
    assert {f[2] for f in attempts} == {f"{result.run_id}:flaky"}
