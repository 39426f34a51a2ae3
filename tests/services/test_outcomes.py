"""What the services say about failures: each attempt of a step with its outcome and
traceback, and an asset's latest outcome beside its last good materialization, on SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.services.conftest import BREAKABLE

from legato.definitions.loader import load_definitions
from legato.services import assets, execution, steps
from legato.settings import Settings

FLAKY = BREAKABLE + """


@lg.task(retries=lg.Retry(2, base=0.01, jitter=False))
def flaky(ctx) -> int:
    print(f"try {ctx.attempt}")
    if ctx.attempt < 3:
        raise ValueError(f"try {ctx.attempt} fails")
    return ctx.attempt


@lg.flow
def retrying():
    return flaky()
"""



def test_each_attempt_with_its_outcome_and_traceback(on_backend: Settings,
                                                     project: Path) -> None:
    (project / "flaky_project.py").write_text(FLAKY)
    defs = load_definitions(str(project / "flaky_project.py"))
    done = execution.run_flow(on_backend, defs.flows["retrying"], {})
    assert done.status == "succeeded"
    logs = steps.run_logs(on_backend, done.run_id, "flaky")
    assert [(a.attempt, a.of, a.status, a.next) for a in logs.attempts] == [
        (1, 3, "failed", "retry"), (2, 3, "failed", "retry"), (3, 3, "succeeded", None)]
    first = logs.attempts[0]
    assert first.error == "ValueError: try 1 fails" and not first.crashed
    assert first.traceback is not None and "ValueError: try 1 fails" in first.traceback
    assert first.duration_s is not None and first.duration_s >= 0
    assert logs.attempts[2].traceback is None and logs.attempts[2].error is None
    assert [(line.attempt, line.message) for line in logs.lines] == [
        (1, "try 1"), (2, "try 2"), (3, "try 3")]


def test_an_asset_shows_its_failure_beside_its_last_good_materialization(
        on_backend: Settings, project: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (project / "flaky_project.py").write_text(FLAKY)
    defs = load_definitions(str(project / "flaky_project.py"))
    good = execution.materialize(on_backend, defs, ["source", "report"])
    assert good.status == "succeeded"
    healthy = {a.asset_key: a for a in assets.list_assets(on_backend, defs)}
    outcome = healthy["report"].latest_outcome
    assert outcome is not None and (outcome.status, outcome.run_id) == ("succeeded",
                                                                        good.run_id)
    monkeypatch.setenv("BREAK_SOURCE", "1")
    bad = execution.materialize(on_backend, defs, ["source", "report"])
    assert bad.status == "failed"
    listed = {a.asset_key: a for a in assets.list_assets(on_backend, defs)}
    for key, status in (("source", "failed"), ("report", "fallback")):
        latest, last_good = listed[key].latest_outcome, listed[key].latest_materialization
        assert latest is not None and (latest.status, latest.run_id) == (status, bad.run_id)
        assert last_good is not None and last_good.run_id == good.run_id
    source_outcome = listed["source"].latest_outcome
    assert source_outcome is not None and source_outcome.error is not None
    assert "source is down" in source_outcome.error
