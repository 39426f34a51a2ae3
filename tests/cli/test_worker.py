"""``legato trigger``, ``legato runs --queued`` and ``legato worker``: a run queued from the
command line, listed in the queue, and executed by a worker process until SIGTERM."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.cli.conftest import stored_run

if TYPE_CHECKING:
    from tests.cli.conftest import Cli, Script


def test_trigger_queues_a_run_and_runs_queued_lists_it(cli: Cli, pipelines: Path) -> None:
    low = cli("trigger", "pipelines.py", "adder", "-p", "a=2")
    assert low.exit_code == 0, low.output
    assert "queued run " in low.stdout
    assert "legato worker" in low.stdout
    high = cli.json("trigger", "pipelines.py", "adder", "-p", "a=3", "--priority", "5",
                    "--tag", "warehouse", "--json")
    assert high["params"] == {"a": 3}
    queue = cli.json("runs", "--queued", "--json")
    assert queue[0]["run_id"] == high["run_id"]
    assert [r["status"] for r in queue] == ["queued", "queued"]
    assert queue[0]["priority"] == 5
    assert queue[0]["tags"] == ["warehouse", "flow:adder"]
    table = cli("runs", "--queued")
    assert "priority" in table.stdout
    assert "warehouse, flow:adder" in table.stdout
    assert "queued" in cli("runs", "--status", "queued").stdout


def test_trigger_with_bad_params_or_an_unknown_flow_exits_2(cli: Cli, pipelines: Path) -> None:
    bad = cli("trigger", "pipelines.py", "adder", "-p", "a=two")
    assert bad.exit_code == 2
    assert "error: --param a=two: 'a' takes an int" in bad.stderr
    assert "hint: " in bad.stderr
    missing = cli("trigger", "pipelines.py", "adder")
    assert missing.exit_code == 2
    assert "flow 'adder' cannot take these parameters" in missing.stderr
    unknown = cli("trigger", "pipelines.py", "addr")
    assert unknown.exit_code == 2
    assert "no flow named 'addr'; did you mean 'adder'?" in unknown.stderr
    asset = cli("trigger", "pipelines.py", "raw")
    assert asset.exit_code == 2
    assert "'raw' is an asset, not a flow" in asset.stderr
    none = cli("trigger")
    assert none.exit_code == 2
    assert "takes one flow name" in none.stderr
    assert cli.json("runs", "--queued", "--json") == []
    assert "the queue is empty" in cli("runs", "--queued").stdout


def test_trigger_twice_with_one_idempotency_key_queues_one_run(cli: Cli,
                                                                pipelines: Path) -> None:
    first = cli.json("trigger", "pipelines.py", "adder", "-p", "a=1",
                     "--idempotency-key", "k", "--json")
    again = cli("trigger", "pipelines.py", "adder", "-p", "a=1", "--idempotency-key", "k")
    assert again.exit_code == 0
    assert f"was submitted before: run {first['run_id']}" in again.stdout
    other = cli("trigger", "pipelines.py", "adder", "-p", "a=2", "--idempotency-key", "k")
    assert other.exit_code == 2
    assert "already used by run" in other.stderr
    assert len(cli.json("runs", "--queued", "--json")) == 1


def test_a_worker_executes_queued_runs_until_sigterm(cli: Cli, legato: Script,
                                                     project: Path, pipelines: Path) -> None:
    ok = cli.json("trigger", "pipelines.py", "adder", "-p", "a=2", "--json")["run_id"]
    bad = cli.json("trigger", "pipelines.py", "failing", "--json")["run_id"]
    worker = subprocess.Popen([*legato.command, "worker", "--slots", "2"], cwd=project,
                              env=legato.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while {r["status"] for r in cli.json("runs", "--json")} & {"queued", "running"}:
            assert time.monotonic() < deadline, "the worker did not execute the runs"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "2 slots on sqlite:///" in out
    assert f"run {ok} adder succeeded" in out
    assert f"run {bad} failing failed" in out
    assert "worker stopped: 1 succeeded, 1 failed, 0 released" in out
    shown = cli.json("show", ok, "--json")
    assert shown["run"]["status"] == "succeeded"


SLEEPY = '''
import time
from pathlib import Path

import legato as lg


@lg.task
def nap(seconds: float) -> float:
    Path(__file__).with_name("napping").touch()
    time.sleep(seconds)
    return seconds


@lg.flow
def sleepy(seconds: float = 60.0) -> float:
    return nap(seconds)
'''


def test_ctrl_c_twice_releases_the_runs_under_way_at_once(cli: Cli, legato: Script,
                                                         project: Path) -> None:
    (project / "sleepy.py").write_text(SLEEPY)
    run_id = cli.json("trigger", "sleepy.py", "sleepy", "--json")["run_id"]
    worker = subprocess.Popen([*legato.command, "worker", "--grace", "60"], cwd=project,
                              env=legato.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (project / "napping").exists():
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.05)
        worker.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert worker.poll() is None  # waiting for the run, up to the grace period
        stopped_at = time.monotonic()
        worker.send_signal(signal.SIGINT)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert time.monotonic() - stopped_at < 10
    assert worker.returncode == 0, err
    assert "worker stopped: 0 succeeded, 0 failed, 1 released" in out
    run = cli.json("show", run_id, "--json")["run"]
    assert run["status"] == "running"
    expires_at = dt.datetime.fromisoformat(run["lease"]["expires_at"]).timestamp()
    assert run["lease"]["resumable"] is True and expires_at <= time.time()
    assert "lease_token" not in run  # a storage internal, not part of the view
    assert stored_run(project, run_id).lease_token == 2
