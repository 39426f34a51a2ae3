"""The run, step and log services, on SQLite and PostgreSQL: what executing a flow or an
asset selection records, read back as views."""

from __future__ import annotations

import time

import pytest

from legato.definitions.definitions import Definitions
from legato.errors import LegatoError, RunNotFoundError
from legato.services import execution, queue, runs, steps
from legato.services.views.runs import RunView
from legato.services.views.serialize import to_json
from legato.settings import Settings


def test_a_flow_run_reads_back_as_views(on_backend: Settings, defs: Definitions) -> None:
    seen: list[str] = []
    done = execution.run_flow(on_backend, defs.flows["adder"], {"a": 2},
                              source=defs.source, observer=lambda event: seen.append(event.kind))
    assert (done.status, done.output) == ("succeeded", 3)
    assert "run_started" in seen and "run_succeeded" in seen
    detail = runs.show_run(on_backend, done.run_id[:8])
    run = detail.run
    assert (run.run_id, run.kind, run.target, run.status) == (done.run_id, "flow", "adder",
                                                              "succeeded")
    assert run.params == {"a": 2} and run.definitions == defs.source
    assert run.duration_s is not None and run.duration_s >= 0 and run.lease is None
    assert [(s.step_key, s.status, s.attempts) for s in detail.steps] == [
        ("add", "succeeded", 1)]
    assert runs.get_run(on_backend, "last") == run


def test_listing_filters_and_a_failed_step_carries_its_error(on_backend: Settings,
                                                             defs: Definitions) -> None:
    execution.run_flow(on_backend, defs.flows["adder"], {})
    failed = execution.run_flow(on_backend, defs.flows["failing"], {})
    assert failed.status == "failed"
    listed = runs.list_runs(on_backend)
    assert [r.target for r in listed] == ["failing", "adder"]
    assert [r.target for r in runs.list_runs(on_backend, status="failed")] == ["failing"]
    assert [r.target for r in runs.list_runs(on_backend, target="adder")] == ["adder"]
    assert runs.list_runs(on_backend, since=time.time() + 60) == []
    assert len(runs.list_runs(on_backend, limit=1)) == 1
    step = runs.show_run(on_backend, failed.run_id).steps[0]
    assert step.status == "failed" and step.error is not None and "boom" in step.error
    assert step.traceback is not None and "ValueError" in step.traceback


def test_logs_per_step_and_a_step_the_run_does_not_have(on_backend: Settings,
                                                        defs: Definitions) -> None:
    done = execution.materialize(on_backend, defs,
                                 execution.select_assets(defs, ["doubled*", "raw"]))
    assert done.status == "succeeded"
    logs = steps.run_logs(on_backend, done.run_id, "raw")
    run, lines = logs.run, logs.lines
    assert run.run_id == done.run_id
    assert [(a.step_key, a.attempt, a.of, a.status) for a in logs.attempts] == [
        ("raw", 1, 1, "succeeded")]
    assert [(line.step_key, line.attempt, line.stream, line.message) for line in lines] == [
        ("raw", 1, "stdout", "raw says hi")]
    assert lines[0].level_name == "INFO"
    with pytest.raises(LegatoError, match=r"has no step 'rwa'.*did you mean 'raw'"):
        steps.run_logs(on_backend, done.run_id, "rwa")
    with pytest.raises(RunNotFoundError):
        runs.show_run(on_backend, "no-such-run")


def test_the_queue_and_idempotent_submission(on_backend: Settings, defs: Definitions) -> None:
    first = queue.queue_run(on_backend, defs.flows["adder"], {"a": 5}, priority=3,
                            tags=["nightly"], idempotency_key="k-1", source=defs.source)
    again = queue.queue_run(on_backend, defs.flows["adder"], {"a": 5}, idempotency_key="k-1",
                            source=defs.source)
    low = queue.queue_run(on_backend, defs.flows["adder"], {"a": 6}, source=defs.source)
    assert again.run_id == first.run_id and (first.flow, first.params) == ("adder", {"a": 5})
    waiting = queue.queued_runs(on_backend)
    assert [r.run_id for r in waiting] == [first.run_id, low.run_id]  # priority first
    assert waiting[0].priority == 3 and "nightly" in waiting[0].tags
    assert waiting[0].status == "queued" and waiting[0].started_at is None
    found = runs.find_by_idempotency_key(on_backend, "k-1")
    assert found is not None and found.run_id == first.run_id
    assert runs.find_by_idempotency_key(on_backend, "k-2") is None


def test_run_views_hold_no_storage_internals(on_backend: Settings, defs: Definitions) -> None:
    done = execution.run_flow(on_backend, defs.flows["adder"], {})
    data = to_json(runs.show_run(on_backend, done.run_id))
    assert set(data) == {"run", "steps"}
    internals = {"lease_token", "lease_owner", "lease_expires_at", "output_value_id",
                 "value_id", "cache_key", "seq", "source"}
    assert not internals & set(data["run"]) and not internals & set(data["steps"][0])
    assert set(data["run"]) == {f for f in RunView.__dataclass_fields__}
