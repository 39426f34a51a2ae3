"""Retries: how many attempts a step gets (the first, plus one per retry: ``retries=3`` and
``lg.Retry(3)`` both mean four attempts), what the event log shows of them, and how long
the engine waits in between (``lg.Retry.delay``, checked as a property)."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import legato as lg
from legato.settings import Settings

# Worker processes get these functions by value, as they get those of a project file loaded
# by the CLI: they need not import this module (and pytest with it) for every run.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def flaky_body(counter: str, failures: int) -> int:
    """Fail the first ``failures`` times it is called (counted in a file, so that it works
    across worker processes), then return the number of the call."""
    path = Path(counter)
    calls = len(path.read_text()) + 1 if path.exists() else 1
    path.write_text("x" * calls)
    if calls <= failures:
        raise ValueError(f"failure number {calls}")
    return calls


def run_flaky(settings: Any, retry: lg.Retry | int, counter: Path, failures: int) -> Any:
    task = lg.task(name="flaky", retries=retry)(flaky_body)

    @lg.flow(name="retrying")
    def flow(counter: str, failures: int) -> Any:
        try:
            return task(counter, failures)
        except lg.StepFailed as failed:
            return f"gave up: {failed.error}"

    return lg.run(flow, settings=settings, counter=str(counter), failures=failures)


CASES = [(0, 0), (1, 0), (0, 2), (1, 2), (2, 2), (3, 2), (7, 2)]


@pytest.mark.parametrize(("failures", "retries"), CASES)
def test_attempts_are_failures_plus_one_up_to_the_retries_plus_one(
    failures: int, retries: int, run_settings: Any, tmp_path: Path, read_store: Any
) -> None:
    counter = tmp_path / "calls"
    retry = lg.Retry(retries, base=0.0, jitter=False)
    max_attempts = retries + 1
    result = run_flaky(run_settings, retry, counter, failures)
    attempts = min(failures + 1, max_attempts)
    assert len(counter.read_text()) == attempts  # the body really ran that often
    step = result.steps["flaky"]
    assert step.attempts == attempts
    succeeded = failures < max_attempts
    assert step.status == ("succeeded" if succeeded else "failed")
    if succeeded:
        assert result.output == attempts
    else:
        assert result.output == f"gave up: ValueError: failure number {attempts}"
        assert step.error == f"ValueError: failure number {attempts}"

    store = read_store(run_settings)
    events = [e for e in store.get_events(result.run_id) if e.step_key == "flaky"]
    assert [e.attempt for e in events if e.kind == "step_started"] == list(
        range(1, attempts + 1))
    failed = [e for e in events if e.kind == "step_failed"]
    assert [e.attempt for e in failed] == list(range(1, min(failures, max_attempts) + 1))
    for event in failed:
        assert event.data["error"] == f"ValueError: failure number {event.attempt}"
        last = event.attempt == max_attempts
        assert event.data["will_retry"] is (not last)
        assert event.data["next"] == ("fail" if last else "retry")
        assert "ValueError" in event.data["traceback"]
    record = next(s for s in store.get_steps(result.run_id) if s.step_key == "flaky")
    assert (record.status, record.attempts) == (step.status, attempts)


@settings(max_examples=15, deadline=None)
@given(failures=st.integers(0, 5), retries=st.integers(0, 3))
def test_attempts_property_inline(failures: int, retries: int, tmp_path_factory: Any
                                  ) -> None:
    home = tmp_path_factory.mktemp("retry")
    settings = Settings(home=home / ".legato", executor="inline")
    counter = home / "calls"
    result = run_flaky(settings, lg.Retry(retries, base=0.0), counter, failures)
    assert result.steps["flaky"].attempts == min(failures, retries) + 1
    assert len(counter.read_text()) == min(failures, retries) + 1
    assert result.steps["flaky"].status == ("succeeded" if failures <= retries else "failed")


def test_retries_as_a_number_means_that_many_more_attempts(make_settings: Any,
                                                           tmp_path: Path) -> None:
    result = run_flaky(make_settings(executor="threads"), 2, tmp_path / "calls", 5)
    assert result.steps["flaky"].attempts == 3
    assert result.steps["flaky"].status == "failed"


@pytest.mark.parametrize("retries", [2, lg.Retry(2, base=0.0), lg.Retry(retries=2, base=0.0)],
                         ids=["number", "Retry", "Retry-keyword"])
def test_a_number_and_lg_retry_both_mean_retries_after_the_first_attempt(
    retries: int | lg.Retry, make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(executor="inline")
    gave_up = run_flaky(settings, retries, tmp_path / "calls", 3)
    assert (gave_up.steps["flaky"].status, gave_up.steps["flaky"].attempts) == ("failed", 3)
    made_it = run_flaky(settings, retries, tmp_path / "more-calls", 2)
    assert (made_it.steps["flaky"].status, made_it.output) == ("succeeded", 3)


def test_the_engine_waits_between_attempts(run_settings: Any, tmp_path: Path,
                                           read_store: Any) -> None:
    retry = lg.Retry(2, backoff="exponential", base=0.05, jitter=False)
    result = run_flaky(run_settings, retry, tmp_path / "calls", 5)
    assert result.steps["flaky"].attempts == 3
    events = [e for e in read_store(run_settings).get_events(result.run_id)
              if e.step_key == "flaky"]
    failed_at = {e.attempt: e for e in events if e.kind == "step_failed"}
    started_at = {e.attempt: e.at for e in events if e.kind == "step_started"}
    assert failed_at[1].data["retry_in"] == 0.05
    assert failed_at[2].data["retry_in"] == 0.1
    assert failed_at[3].data["retry_in"] == 0
    assert started_at[2] - failed_at[1].at >= 0.05 - 0.005
    assert started_at[3] - failed_at[2].at >= 0.1 - 0.005
    assert started_at[3] - failed_at[2].at < 1.0


def test_jittered_waits_stay_within_their_bounds(make_settings: Any, tmp_path: Path,
                                                 read_store: Any) -> None:
    settings = make_settings(executor="threads")
    retry = lg.Retry(3, backoff="constant", base=0.06, jitter=True)
    result = run_flaky(settings, retry, tmp_path / "calls", 9)
    events = [e for e in read_store(settings).get_events(result.run_id)
              if e.step_key == "flaky"]
    failed = {e.attempt: e for e in events if e.kind == "step_failed"}
    started = {e.attempt: e.at for e in events if e.kind == "step_started"}
    for attempt in (1, 2, 3):
        planned = failed[attempt].data["retry_in"]
        assert 0.03 - 0.001 <= planned <= 0.06 + 0.001
        assert started[attempt + 1] - failed[attempt].at >= planned - 0.005


# -- lg.Retry.delay ----------------------------------------------------------------------

durations = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)


@given(attempt=st.integers(1, 60), base=durations, cap=durations, jitter=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_exponential_delay(attempt: int, base: float, cap: float, jitter: bool,
                           seed: int) -> None:
    retry = lg.Retry(3, backoff="exponential", base=base, max_delay=cap, jitter=jitter)
    expected = min(base * 2 ** (attempt - 1), cap)
    delay = retry.delay(attempt, random.Random(seed))
    if jitter:
        assert expected / 2 <= delay <= expected
    else:
        assert delay == expected
    assert 0 <= delay <= cap


@given(attempt=st.integers(1, 60), base=durations, cap=durations, jitter=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_constant_delay(attempt: int, base: float, cap: float, jitter: bool,
                        seed: int) -> None:
    retry = lg.Retry(3, backoff="constant", base=base, max_delay=cap, jitter=jitter)
    expected = min(base, cap)
    delay = retry.delay(attempt, random.Random(seed))
    if jitter:
        assert expected / 2 <= delay <= expected
    else:
        assert delay == expected


@given(attempt=st.integers(1, 30), base=st.floats(0.001, 10.0))
def test_exponential_delays_never_shrink_without_jitter(attempt: int, base: float) -> None:
    retry = lg.Retry(2, base=base, max_delay=100.0, jitter=False)
    assert retry.delay(attempt + 1) >= retry.delay(attempt)


def test_jitter_spreads_delays() -> None:
    retry = lg.Retry(2, base=1.0, jitter=True)
    rng = random.Random(7)
    delays = {round(retry.delay(3, rng), 6) for _ in range(50)}
    assert len(delays) > 40
    assert min(delays) >= 2.0 and max(delays) <= 4.0
