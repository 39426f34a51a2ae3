"""Failures inside flows on every executor: a future that failed skips the tasks it feeds
while independent branches finish; a failure the flow never looked at fails the run; a
caught ``StepFailed`` does not; a task's fallback function stands in for it."""

from __future__ import annotations

import sys
from typing import Any

import cloudpickle
import pytest

import legato as lg

# Worker processes get these functions by value, as they get those of a project file loaded
# by the CLI: they need not import this module (and pytest with it) for every run.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@lg.task
def load(name: str) -> list[int]:
    if name == "broken":
        raise OSError(f"cannot read {name}")
    return [1, 2, 3]


@lg.task
def transform(rows: list[int]) -> list[int]:
    return [r * 10 for r in rows]


@lg.task
def publish(rows: list[int]) -> int:
    return len(rows)


@lg.task
def boom(message: str) -> None:
    raise RuntimeError(message)


def estimate(rows: list[int], scale: int = 1) -> int:
    return -1 * scale


def broken_estimate(rows: list[int], scale: int = 1) -> int:
    raise ValueError("no estimate either")


@lg.task(fallback=estimate, retries=1)
def exact(rows: list[int], scale: int = 1) -> int:
    raise ArithmeticError("cannot compute exactly")


@lg.task(fallback=broken_estimate)
def exact_without_plan_b(rows: list[int], scale: int = 1) -> int:
    raise ArithmeticError("cannot compute exactly")


@lg.flow
def two_branches() -> dict[str, Any]:
    bad = load.submit("broken")
    good = load.submit("fine")
    bad_out = publish.submit(transform.submit(bad))
    good_out = publish.submit(transform.submit(good))
    outcome: dict[str, Any] = {"good": good_out.result()}
    try:
        bad_out.result()
    except lg.StepFailed as failed:
        outcome["bad"] = [failed.step_key, failed.error]
    try:
        bad.result()
    except lg.StepFailed as failed:
        outcome["cause"] = repr(failed.__cause__)
    return outcome


@lg.flow
def ignores_a_failure() -> str:
    boom.submit("nobody looks at me")
    load.submit("fine")
    return "done"


@lg.flow
def looks_at_the_failure() -> str:
    future = boom.submit("seen")
    return "seen" if future.exception() is not None else "unseen"


@lg.flow
def catches_a_direct_call() -> str:
    try:
        boom("direct")
    except lg.StepFailed as failed:
        cause = failed.__cause__
        assert isinstance(cause, RuntimeError) and cause.args == ("direct",), repr(cause)
        return f"recovered from {failed.step_key}: {failed.error}"
    return "no failure"


@lg.flow
def lets_it_propagate() -> None:
    boom("escaped")


@lg.flow
def user_error() -> None:
    raise KeyError("flow body bug")


@lg.flow
def with_fallbacks(scale: int) -> list[int]:
    return [exact([1], scale=scale), exact.submit([2]).result()]


@lg.flow
def fallback_fails() -> str:
    try:
        exact_without_plan_b([1])
    except lg.StepFailed as failed:
        return failed.error
    return "no failure"


def test_a_failed_future_skips_what_it_feeds_and_the_other_branch_finishes(
    run_settings: Any, read_store: Any
) -> None:
    result = lg.run(two_branches, settings=run_settings)
    assert result.status == "succeeded", result.error
    assert result.output["good"] == 3
    steps = result.steps
    # keys follow call order: load, load-2, transform, publish, transform-2, publish-2
    assert steps["load"].status == "failed"
    assert "OSError: cannot read broken" in (steps["load"].error or "")
    assert steps["transform"].status == "skipped"
    assert steps["transform"].reason == "upstream 'load' did not succeed"
    assert steps["publish"].status == "skipped"
    assert steps["publish"].reason == "upstream 'transform' did not succeed"
    assert [steps[k].status for k in ("load-2", "transform-2", "publish-2")] == [
        "succeeded"] * 3
    assert result.output["bad"][0] == "publish"
    assert result.output["cause"] == "OSError('cannot read broken')"
    assert "upstream 'transform' did not succeed" in result.output["bad"][1]

    records = {s.step_key: s for s in read_store(run_settings).get_steps(result.run_id)}
    assert records["transform"].status == "skipped"
    assert records["transform"].upstream == ["load"]
    assert records["publish"].reason == "upstream 'transform' did not succeed"


def test_an_unobserved_failure_fails_the_run(run_settings: Any, read_store: Any) -> None:
    result = lg.run(ignores_a_failure, settings=run_settings)
    assert result.status == "failed"
    assert result.output is None
    assert result.error == ("1 submitted step(s) failed and the flow never looked at their "
                            "results: boom")
    assert result.steps["load"].status == "succeeded"  # the other step still finished
    run = read_store(run_settings).get_run(result.run_id)
    assert (run.status, run.error) == ("failed", result.error)


def test_looking_at_a_failure_is_handling_it(run_settings: Any) -> None:
    result = lg.run(looks_at_the_failure, settings=run_settings)
    assert result.status == "succeeded", result.error
    assert result.output == "seen"
    assert result.steps["boom"].status == "failed"


def test_a_flow_can_catch_a_failed_direct_call(run_settings: Any) -> None:
    result = lg.run(catches_a_direct_call, settings=run_settings)
    assert result.status == "succeeded", result.error
    assert result.output == "recovered from boom: RuntimeError: direct"


def test_an_uncaught_step_failure_fails_the_run(run_settings: Any, read_store: Any) -> None:
    result = lg.run(lets_it_propagate, settings=run_settings)
    assert result.status == "failed"
    assert result.error is not None and "boom" in result.error
    assert "RuntimeError: escaped" in result.error
    assert read_store(run_settings).get_run(result.run_id).status == "failed"


def test_a_flow_body_error_fails_the_run(run_settings: Any) -> None:
    result = lg.run(user_error, settings=run_settings)
    assert result.status == "failed"
    assert result.error == "KeyError: 'flow body bug'"


def test_a_task_fallback_function_stands_in(run_settings: Any, read_store: Any) -> None:
    result = lg.run(with_fallbacks, settings=run_settings, scale=3)
    assert result.status == "succeeded", result.error
    assert result.output == [-3, -1]  # the fallback got the same arguments
    for key in ("exact", "exact-2"):
        step = result.steps[key]
        assert step.status == "fallback"
        assert step.attempts == 2
        assert "ArithmeticError: cannot compute exactly" in (step.reason or "")
        assert "used the fallback estimate" in (step.reason or "")
    assert result.value("exact") == -3
    record = next(s for s in read_store(run_settings).get_steps(result.run_id)
                  if s.step_key == "exact")
    assert record.status == "fallback"
    assert record.reason == result.steps["exact"].reason
    assert record.value_id is not None


def test_a_failing_fallback_fails_the_step(run_settings: Any) -> None:
    result = lg.run(fallback_fails, settings=run_settings)
    assert result.status == "succeeded", result.error
    assert "cannot compute exactly" in result.output
    assert "ValueError: no estimate either" in result.output
    assert result.steps["exact_without_plan_b"].status == "failed"


@pytest.mark.parametrize("target", ["two_branches", "ignores_a_failure"])
def test_failures_are_in_the_event_log(target: str, make_settings: Any,
                                       read_store: Any) -> None:
    settings = make_settings(executor="threads")
    result = lg.run(globals()[target], settings=settings)
    events = read_store(settings).get_events(result.run_id)
    failed = [e for e in events if e.kind == "step_failed"]
    assert failed and all(e.data["next"] == "fail" for e in failed)
    assert events[-1].kind == f"run_{result.status}"
