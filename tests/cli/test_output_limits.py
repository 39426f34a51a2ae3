"""A step printing 600,000 lines, beside a healthy run, both with a short lease: its
output is written in small commits, so neither run's heartbeat waits behind it (unbounded,
one commit of them held the write lock for seconds and leases expired)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

PROJECT = '''
import time
from pathlib import Path

import legato as lg


@lg.task
def chatty(n: int) -> int:
    Path("chatty-started").touch()
    for i in range(n):
        print(f"line {i}")
    return n


@lg.flow
def noisy(n: int = 600_000) -> int:
    return chatty(n)


@lg.task
def nap(i: int) -> int:
    time.sleep(0.2)
    return i


@lg.flow
def healthy(n: int = 20) -> list[int]:
    return [nap(i) for i in range(n)]
'''


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_chatty_step_starves_no_heartbeat(backend: str, project: Path, legato: Any,
                                            request: pytest.FixtureRequest) -> None:
    from sqlalchemy import asc, desc, select

    from legato.store import schema
    from legato.store.sql_store import SqlStore

    url = (request.getfixturevalue("postgres_url") if backend == "postgres"
           else f"sqlite:///{project / '.legato' / 'legato.db'}")
    (project / "chatty.py").write_text(PROJECT)
    env = legato.env(LEGATO_LEASE_TTL="2", LEGATO_DATABASE_URL=url,
                     LEGATO_MAX_LOG_BYTES="2500000")

    def start(flow: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*legato.command, "run", "chatty.py", flow], cwd=project,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    chatty = start("noisy")
    deadline = time.monotonic() + 30
    while not (project / "chatty-started").exists():
        assert chatty.poll() is None and time.monotonic() < deadline, chatty.communicate()
        time.sleep(0.05)
    healthy = start("healthy")
    expired: set[str] = set()
    with SqlStore(url) as store:
        while chatty.poll() is None or healthy.poll() is None:  # what a worker would see
            expired |= {run.run_id for run in store.list_expired_runs(time.time())}
            time.sleep(0.1)
        outcomes: list[Any] = [(p.returncode, *p.communicate()) for p in (chatty, healthy)]
        for code, out, err in outcomes:
            assert code == 0, (out, err)
        assert not expired, "a lease expired while its run was healthy"
        runs = {run.target: run for run in store.list_runs()}
        assert {run.status for run in runs.values()} == {"succeeded"}
        logs = schema.logs
        ends = [store.read(select(logs.c.message).where(logs.c.run_id == runs["noisy"].run_id)
                           .order_by(order(logs.c.log_id)).limit(1))[0][0]
                for order in (asc, desc)]
        assert ends[0] == "line 0"
        assert ends[1].startswith("[legato] output truncated:")
        assert "the attempt wrote 7,088,890 bytes in all" in ends[1]
