"""``legato resume`` and ``legato run --idempotency-key``, through the console script: a run
whose process was killed is resumed from its last committed step; the bad inputs (a run that
has ended, an unknown id, definitions that are gone, a flow whose code changed) each get a
clear message and the right exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import Cli, Script, stored_run

FLOWS = '''
import os
import legato as lg


def note(ctx):
    with open("ledger.txt", "a") as ledger:
        ledger.write(f"{ctx.step_key} {os.getpid()}\\n")


@lg.task
def fetch(ctx, i: int) -> int:
    note(ctx)
    return i * 10


@lg.task
def parse(ctx, x: int) -> int:
    note(ctx)
    return x + 1


@lg.flow
def pipeline(n: int = 3):
    total = 0
    for i in range(n):
        total += parse(fetch(i))
    return total
'''

REORDERED = FLOWS.replace("        total += parse(fetch(i))",
                          "        first = parse(i)  # parse now comes first\n"
                          "        total += fetch(first)")


@pytest.fixture
def flows(project: Path) -> Path:
    path = project / "flows.py"
    path.write_text(FLOWS)
    return path


def ledger(project: Path) -> list[str]:
    return [line.split()[0] for line in (project / "ledger.txt").read_text().splitlines()]


def crashed_run(legato: Script, project: Path, after_commits: int = 3) -> dict[str, Any]:
    """Run the pipeline in a process killed right after its Nth step committed."""
    done = legato(project, "run", "flows.py", "pipeline",
                  LEGATO_FAULT=f"after-commit:{after_commits}")
    assert done.returncode == -9, done.stderr
    shown = legato(project, "show", "last", "--json")
    run: dict[str, Any] = json.loads(shown.stdout)
    assert run["run"]["status"] == "running"
    return run


def test_a_killed_run_resumes_from_its_last_committed_step(legato: Script, project: Path,
                                                           flows: Path) -> None:
    crashed = crashed_run(legato, project)
    assert [s["step_key"] for s in crashed["steps"] if s["status"] == "succeeded"] == [
        "fetch", "parse", "fetch-2"]
    shown = legato(project, "show", "last").stdout
    assert "resumable: the process that held it" in shown and "has died" in shown
    assert f"legato resume {crashed['run']['run_id']}" in shown
    done = legato(project, "resume", crashed["run"]["run_id"][:8])
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout
    run = json.loads(legato(project, "show", "last", "--json").stdout)
    assert run["run"]["status"] == "succeeded"
    assert stored_run(project, run["run"]["run_id"]).lease_token == 2  # taken over once
    assert [s["status"] for s in run["steps"]] == ["succeeded"] * 6
    # the three committed steps did not run again; the others ran once
    assert ledger(project) == ["fetch", "parse", "fetch-2", "parse-2", "fetch-3", "parse-3"]


def test_resuming_a_run_that_has_ended_changes_nothing(legato: Script, cli: Cli,
                                                       project: Path, flows: Path) -> None:
    assert cli("run", "flows.py", "pipeline").exit_code == 0
    before = json.loads(legato(project, "show", "last", "--json").stdout)
    result = cli("resume", "last")
    assert result.exit_code == 0, result.output
    assert f"run {before['run']['run_id']} has already ended (succeeded): nothing to resume" \
        in result.output
    assert "--restart" in result.output
    assert json.loads(legato(project, "show", "last", "--json").stdout) == before
    assert len(ledger(project)) == 6


def test_an_unknown_run(cli: Cli, flows: Path) -> None:
    result = cli("resume", "0123abcd")
    assert result.exit_code == 2
    assert "no run matches '0123abcd'" in result.output


def test_a_run_whose_definitions_are_gone(legato: Script, project: Path, flows: Path) -> None:
    run_id = crashed_run(legato, project)["run"]["run_id"]
    flows.unlink()
    done = legato(project, "resume", run_id)
    assert done.returncode == 2
    assert f"cannot resume run {run_id}: its definitions (file:{flows}) cannot be loaded" \
        in done.stderr
    assert "no such file" in done.stderr
    run = json.loads(legato(project, "show", run_id, "--json").stdout)
    assert run["run"]["status"] == "running"  # untouched: it can be resumed once they are back
    flows.write_text(FLOWS.replace("def pipeline(", "def renamed("))
    done = legato(project, "resume", run_id)
    assert done.returncode == 2
    assert f"flow 'pipeline' is no longer defined in file:{flows}" in done.stderr


def test_a_changed_flow_stops_with_the_call_site_and_can_restart(
        legato: Script, project: Path, flows: Path) -> None:
    run_id = crashed_run(legato, project)["run"]["run_id"]
    flows.write_text(REORDERED)
    done = legato(project, "resume", run_id)
    assert done.returncode == 1, done.stderr
    line = REORDERED.splitlines().index("        first = parse(i)  # parse now comes first") + 1
    assert f"no longer matches the history of run {run_id} at {flows}:{line}" in done.stderr
    assert "call #1 is a call of 'parse' (step 'parse'), but the run recorded a call of " \
        "'fetch' (step 'fetch') there" in done.stderr
    assert f"hint: restart the run from scratch: legato resume {run_id} --restart" \
        in done.stderr
    old = json.loads(legato(project, "show", run_id, "--json").stdout)
    assert old["run"]["status"] == "failed"
    assert "NonDeterminismError" in old["run"]["error"]
    done = legato(project, "resume", run_id, "--restart")
    assert done.returncode == 0, done.stderr
    runs = json.loads(legato(project, "runs", "--json").stdout)
    assert len(runs) == 2 and runs[0]["status"] == "succeeded"
    assert runs[0]["params"] == old["run"]["params"]


def test_an_idempotency_key_submits_once(cli: Cli, legato: Script, project: Path,
                                         flows: Path) -> None:
    first = cli("run", "flows.py", "pipeline", "--idempotency-key", "nightly-2026-11-21")
    assert first.exit_code == 0, first.output
    again = cli("run", "flows.py", "pipeline", "--idempotency-key", "nightly-2026-11-21")
    assert again.exit_code == 0, again.output
    runs = json.loads(legato(project, "runs", "--json").stdout)
    assert len(runs) == 1
    assert f"idempotency key 'nightly-2026-11-21' was submitted before: run " \
           f"{runs[0]['run_id']} (succeeded)" in again.output
    assert len(ledger(project)) == 6  # the second submission ran nothing
    other = cli("run", "flows.py", "pipeline", "--idempotency-key", "nightly-2026-11-21",
                "--param", "n=2")
    assert other.exit_code == 2
    assert "was already used by run" in other.output and "other parameters" in other.output


def test_a_killed_submission_with_a_key_resumes_when_submitted_again(
        legato: Script, project: Path, flows: Path) -> None:
    done = legato(project, "run", "flows.py", "pipeline", "--idempotency-key", "k1",
                  LEGATO_FAULT="after-commit:2")
    assert done.returncode == -9
    done = legato(project, "run", "flows.py", "pipeline", "--idempotency-key", "k1")
    assert done.returncode == 0, done.stderr
    runs = json.loads(legato(project, "runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["succeeded"]
    assert runs[0]["idempotency_key"] == "k1"
    assert ledger(project) == ["fetch", "parse", "fetch-2", "parse-2", "fetch-3", "parse-3"]


def test_a_run_held_by_a_live_process_is_shown_and_not_resumed(
        cli: Cli, legato: Script, project: Path, flows: Path) -> None:
    import time

    from sqlalchemy import create_engine, text

    assert cli("run", "flows.py", "pipeline").exit_code == 0
    engine = create_engine(f"sqlite:///{project / '.legato' / 'legato.db'}")
    with engine.begin() as connection:  # as if another host were running it now
        connection.execute(text("UPDATE runs SET status='running', lease_owner='elsewhere:1:a'"
                                ", lease_expires_at=:t"), {"t": time.time() + 120})
    engine.dispose()
    shown = cli("show", "last")
    assert "held by elsewhere:1:a for" in shown.output and "more" in shown.output
    refused = cli("resume", "last")
    assert refused.exit_code == 2
    assert "cannot be resumed now: it is running in process elsewhere:1:a" in refused.output
    assert "--wait" in refused.output
