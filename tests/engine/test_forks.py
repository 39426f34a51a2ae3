"""A process forked by a step's body never records on the step's behalf: a child that
returns from the body exits there, with a warning; the store refuses writes from a process
other than the one that opened its connection."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from legato.errors import StoreError
from legato.store.events import RunLog

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

SCRIPT = textwrap.dedent('''
    import json, os, sys, warnings
    import legato as lg
    from legato.settings import Settings

    @lg.task
    def forks() -> str:
        with warnings.catch_warnings():  # forking a process with threads: it is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            return "from the child"  # returns from the body, as the parent would
        os.waitpid(pid, 0)
        return "from the parent"

    @lg.flow
    def forking() -> str:
        return forks()

    if __name__ == "__main__":  # not in the worker processes, which import this module
        url = sys.argv[3] or None
        settings = Settings(home=sys.argv[1], executor=sys.argv[2], database_url=url)
        result = lg.run(forking, settings=settings)
        print(json.dumps({"pid": os.getpid(), "status": result.status,
                          "output": result.output, "run_id": result.run_id}))
''')


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("executor", ["inline", "threads", "processes"])
def test_a_forked_child_returning_from_the_body_records_nothing(
        executor: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    import json

    from legato.store.sql_store import SqlStore

    url = request.getfixturevalue("postgres_url") if backend == "postgres" else ""
    script = tmp_path / "forking.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / ".legato"), executor,
                           url], capture_output=True, text=True, timeout=60, env=env,
                          cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(printed) == 1, done.stdout  # the child did not go on to end a run of its own
    result = printed[0]
    assert (result["status"], result["output"]) == ("succeeded", "from the parent")
    assert "forked by the body of step function 'forks'" in done.stderr
    assert "exits here without recording anything" in done.stderr
    with SqlStore(url or f"sqlite:///{tmp_path / '.legato' / 'legato.db'}") as store:
        kinds = [event.kind for event in store.get_events(result["run_id"])]
        assert kinds.count("step_succeeded") == 1
        assert kinds.count("run_succeeded") == 1
        assert store.get_run(result["run_id"]).status == "succeeded"


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_store_refuses_writes_from_a_forked_process(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The connection belongs to the process that opened it: a child forked afterwards is
    refused (and does not disturb it: the parent writes on)."""
    import warnings

    from legato.store.sql_store import SqlStore

    url = (request.getfixturevalue("postgres_url") if backend == "postgres"
           else f"sqlite:///{tmp_path / 'legato.db'}")
    store = SqlStore(url)
    try:
        store.commit([])  # opens the write connection
        store.list_runs()  # and a pooled read connection
        read, write = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: report what happened, and leave without cleaning up
            os.close(read)
            try:
                store.commit([])
                outcome = b"written"
            except StoreError as error:
                outcome = str(error).encode()
            except BaseException as error:  # reported to the parent
                outcome = repr(error).encode()
            store.close()  # lets the parent's connection be
            os.write(write, outcome)
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        with os.fdopen(read, "rb") as pipe:
            outcome_text = pipe.read().decode()
        assert "a forked process must not write on its parent's behalf" in outcome_text
        store.commit([])  # the parent's connections are intact
        assert store.list_runs() == []
    finally:
        store.close()


def test_a_session_refuses_to_record_from_another_process(tmp_path: Path) -> None:
    from legato.engine.session import RunSession
    from legato.executors.threads import InlineExecutor
    from legato.store.sql_store import SqlStore
    from legato.values.value_store import ValueStore

    with SqlStore(f"sqlite:///{tmp_path / 'legato.db'}") as store:
        session = RunSession(store=store, values=ValueStore(tmp_path), executor=InlineExecutor(),
                             tag_limits={}, params={})
        session.pid = -1  # as if this process were a child forked by a step
        with pytest.raises(StoreError, match="must not record on its parent's behalf"):
            session.record([session.event(RunLog(message="x"))])
        events: Any = store.get_events(session.run_id)
        assert events == []
