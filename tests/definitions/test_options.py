"""Durations, retry policies, fallbacks and cache policies."""

from __future__ import annotations

import random

import pytest

import legato as lg
from legato.definitions.options import CachePolicy, Retry, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (2.5, 2.5),
        ("45", 45.0),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("10m", 600.0),
        ("1.5h", 5400.0),
        ("6h", 21600.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        (" 10 m ", 600.0),
        (None, None),
    ],
)
def test_durations_are_parsed_to_seconds(value: float | str | None, seconds: float | None) -> None:
    assert parse_duration(value, what="timeout") == seconds


@pytest.mark.parametrize("value", ["ten minutes", "10 minutes", "10x", "-5s", "", "m", True])
def test_bad_durations_name_the_option_and_show_examples(value: object) -> None:
    with pytest.raises(ValueError, match="timeout") as caught:
        parse_duration(value, what="timeout")  # type: ignore[arg-type]
    assert str(value) in str(caught.value) or value == ""


def test_negative_number_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        parse_duration(-1, what="timeout")


def test_retry_defaults() -> None:
    retry = lg.Retry()
    assert (retry.retries, retry.backoff, retry.base, retry.max_delay, retry.jitter) == (
        0,
        "exponential",
        1.0,
        300.0,
        True,
    )


def test_retry_takes_durations_as_text() -> None:
    retry = lg.Retry(5, base="500ms", max_delay="1m", jitter=False)
    assert retry.base == 0.5
    assert retry.max_delay == 60.0


def test_exponential_backoff_doubles_and_is_capped() -> None:
    retry = lg.Retry(10, base=1, max_delay=10, jitter=False)
    assert [retry.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_constant_backoff() -> None:
    retry = lg.Retry(4, backoff="constant", base="2s", jitter=False)
    assert [retry.delay(n) for n in (1, 2, 3)] == [2, 2, 2]


def test_jitter_stays_between_half_and_full_delay() -> None:
    retry = lg.Retry(10, base=4, max_delay=100, jitter=True)
    rng = random.Random(7)
    for attempt in range(1, 6):
        full = min(4 * 2 ** (attempt - 1), 100)
        delays = {retry.delay(attempt, rng) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays)
        assert len(delays) > 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retries": -1}, "Retry\\(retries\\) must be 0 or more"),
        ({"retries": -2}, "0 or more"),
        ({"retries": 2.5}, "whole number"),
        ({"retries": "3"}, "whole number"),
        ({"retries": True}, "whole number"),
        ({"retries": 3, "backoff": "linear"}, "'exponential' or 'constant'"),
        ({"retries": 3, "base": "soon"}, "Retry\\(base\\)"),
        ({"retries": 3, "max_delay": -1}, "Retry\\(max_delay\\)"),
    ],
)
def test_retry_validation_names_the_bad_argument(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(lg.DefinitionError, match=message) as caught:
        lg.Retry(**kwargs)  # type: ignore[arg-type]
    (problem,) = caught.value.problems
    assert problem.file == __file__
    assert problem.line is not None


def test_retry_is_immutable_and_comparable() -> None:
    retry = lg.Retry(3)
    with pytest.raises(AttributeError):
        retry.retries = 5  # type: ignore[misc]
    assert retry == lg.Retry(3)
    assert retry != lg.Retry(3, jitter=False)


def test_retries_as_a_number_means_retries_after_the_first_attempt_with_no_delay() -> None:
    retry = Retry.coerce(3)
    assert retry.max_attempts == 4
    assert retry.delay(1) == 0
    assert retry.delay(3) == 0
    assert Retry.coerce(0).max_attempts == 1
    assert Retry.coerce(None).max_attempts == 1
    policy = lg.Retry(2)
    assert Retry.coerce(policy) is policy


def test_lg_retry_counts_retries_as_retries_as_a_number_does() -> None:
    assert lg.Retry(3).retries == lg.Retry(retries=3).retries == Retry.coerce(3).retries == 3
    assert lg.Retry(3).max_attempts == Retry.coerce(3).max_attempts == 4
    assert lg.Retry().max_attempts == lg.Retry(0).max_attempts == 1


@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_bad_retries_value(value: object) -> None:
    with pytest.raises(ValueError, match="retries must be"):
        Retry.coerce(value)  # type: ignore[arg-type]


def test_last_good_is_one_named_value() -> None:
    assert repr(lg.last_good) == "lg.last_good"
    assert lg.last_good == type(lg.last_good)()


def test_cache_policies() -> None:
    assert lg.cache.by_inputs == CachePolicy()
    assert lg.cache.by_inputs.expires_after is None
    assert lg.cache.by_inputs.within("1d").expires_after == 86400.0
    with pytest.raises(lg.DefinitionError, match="cache expiry"):
        lg.cache.by_inputs.within("tomorrow")
