"""One bad step costs only itself, as a property (Hypothesis): concurrent runs mixing healthy
and poisonous steps, executed by ``legato worker`` processes that the poisonous steps may
kill (a supervisor restarts them, as systemd or Kubernetes would).

Healthy steps return normally, print a file name that is not UTF-8 (a lone surrogate) or
print past the output limit. Poisonous ones raise, raise with a NUL or a surrogate in the
message, or call ``os._exit(7)`` (what a segfault or the out-of-memory killer looks like).
For every example, on SQLite and PostgreSQL:

- every run ends, none is left queued or running;
- every healthy step is committed exactly once (one ``step_succeeded``, its value right),
  with its output stored (escaped, or truncated with the marker);
- every poisonous step fails by itself, after its retries, with a reason that names what
  happened (the exception, escaped; or the process dying, with its exit code);
- no surviving worker printed a traceback.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from worker_kit import queue, spawn_worker, statuses

from legato.settings import Settings
from legato.store.records import RunStatus, StepStatus
from legato.store.sql_store import SqlStore

FLOWS = '''
import os
from pathlib import Path

import legato as lg

HERE = Path(__file__).parent
NAME = b"report-\\xff.csv".decode("utf-8", "surrogateescape")


@lg.task(retries=1)
def behave(tag: str, index: int, kind: str) -> str:
    with (HERE / "bodies.txt").open("a") as ledger:
        ledger.write(f"{tag}:{index}:{kind} {os.getpid()}\\n")
    if kind == "surrogate_print":
        print("found", NAME)
    elif kind == "huge_output":
        for n in range(20_000):
            print("line", n, "of a step that says too much")
    elif kind == "nul_raise":
        raise ValueError("bad\\x00value")
    elif kind == "surrogate_raise":
        raise ValueError("bad file " + NAME)
    elif kind == "raise":
        raise RuntimeError("boom")
    elif kind == "exit":
        os._exit(7)
    return f"{tag}:{index}"


@lg.flow
def mixed(tag: str, kinds: list[str]) -> int:
    futures = behave.map([tag] * len(kinds), range(len(kinds)), kinds)
    done = 0
    for future in futures:
        try:
            future.result()
            done += 1
        except lg.StepFailed:
            pass
    return done
'''

HEALTHY = ("ok", "surrogate_print", "huge_output")
POISONOUS = ("raise", "nul_raise", "surrogate_raise", "exit")
REASONS = {
    "raise": "RuntimeError: boom",
    "nul_raise": "ValueError: bad\\x00value",
    "surrogate_raise": "ValueError: bad file report-\\xff.csv",
    "exit": "the process died while running this step",
}
LOG_LIMIT = 64_000
WORKERS = 2
DEADLINE_S = 150.0

_examples = itertools.count()


def _supervise(folder: Path, settings: Settings, store: SqlStore, run_ids: list[str]
               ) -> tuple[list[int], list[str]]:
    """Keep ``WORKERS`` workers running (restarting those a step killed) until every run
    ended; the exit codes of the workers that died, and the stderr of all of them."""
    env = {"LEGATO_MAX_LOG_BYTES": str(LOG_LIMIT)}

    def spawn() -> subprocess.Popen[str]:
        return spawn_worker(folder, settings, "--slots", "3", env_extra=env)

    workers = [spawn() for _ in range(WORKERS)]
    dead: list[tuple[int, str]] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while any(r.status in (RunStatus.QUEUED, RunStatus.RUNNING)
                  for r in statuses(store, run_ids).values()):
            assert time.monotonic() < deadline, "the runs did not end in time"
            for index, worker in enumerate(workers):
                if worker.poll() is not None:
                    _, err = worker.communicate()
                    dead.append((worker.returncode, err))
                    workers[index] = spawn()
            time.sleep(0.1)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        stopped = [(w.returncode, w.communicate(timeout=60)[1]) for w in workers]
    return [code for code, _ in dead], [err for _, err in dead + stopped]


@pytest.mark.slow
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plans=st.lists(st.lists(st.sampled_from(HEALTHY + POISONOUS), min_size=1, max_size=5),
                      min_size=2, max_size=3)
       .filter(lambda plans: any(k in POISONOUS for kinds in plans for k in kinds)))
def test_a_poisonous_step_fails_by_itself_and_every_healthy_step_commits_once(
        project: Path, backend: str, request: pytest.FixtureRequest,
        plans: list[list[str]]) -> None:
    folder = project / f"example-{next(_examples)}"
    folder.mkdir()
    (folder / "flows.py").write_text(FLOWS)
    url = None if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))
    run_settings = Settings(home=folder / ".legato", database_url=url, lease_ttl=3.0)
    with SqlStore(run_settings.store_url) as store:
        run_ids = queue(store, folder / "flows.py", "mixed",
                        [{"tag": f"r{n}", "kinds": kinds} for n, kinds in enumerate(plans)])
        died, stderr = _supervise(folder, run_settings, store, run_ids)
        runs = statuses(store, run_ids)
        for run_id, kinds in zip(run_ids, plans, strict=True):
            run = runs[run_id]
            assert run.status == RunStatus.SUCCEEDED, (kinds, run.error)
            by_index = sorted((s for s in store.get_steps(run_id) if s.name == "behave"),
                              key=lambda s: s.seq)
            assert len(by_index) == len(kinds), (kinds, [s.step_key for s in by_index])
            events = store.get_events(run_id)
            for step, kind in zip(by_index, kinds, strict=True):
                succeeded = [e for e in events
                             if e.step_key == step.step_key and e.kind == "step_succeeded"]
                if kind in HEALTHY:
                    assert step.status == StepStatus.SUCCEEDED, (kind, step.error)
                    assert len(succeeded) == 1, (kind, succeeded)
                    lines = [line.message for line in store.get_logs(run_id, step.step_key)]
                    if kind == "surrogate_print":
                        assert "found report-\\xff.csv" in lines
                    if kind == "huge_output":
                        assert any("output truncated" in line for line in lines)
                        assert sum(len(line) for line in lines) < LOG_LIMIT * 2
                else:
                    assert step.status == StepStatus.FAILED, (kind, step.status)
                    assert not succeeded
                    assert step.error is not None and REASONS[kind] in step.error, (
                        kind, step.error)
                    if kind == "exit":  # its last attempt ran apart: its own exit code
                        assert "(exit code 7), 2 times" in step.error, step.error
            assert store.get_run(run_id).status == RunStatus.SUCCEEDED
    # a worker died only by a step's os._exit, and those that lived printed no traceback
    assert all(code == 7 for code in died), died
    assert not any("Traceback" in err for err in stderr), [e for e in stderr if e][:1]
    exits = sum(kinds.count("exit") for kinds in plans)
    assert len(died) <= 2 * exits + WORKERS
