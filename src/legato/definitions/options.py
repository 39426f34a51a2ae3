"""Options shared by assets and tasks: durations, retry policy, fallback, cache policy."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from legato.definitions.source import caller_location
from legato.errors import DefinitionError, Problem

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: float | int | str | None, *, what: str) -> float | None:
    """Seconds from ``30``, ``2.5``, ``"500ms"``, ``"10m"``, ``"6h"``, ``"1d"``; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a duration such as 30, '10m' or '6h', not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(
                f"{what} {value!r} is not a duration; write seconds (30) or a number with a "
                "unit: '500ms', '30s', '10m', '6h', '1d', '1w'"
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds < 0:
        raise ValueError(f"{what} must not be negative, got {value!r}")
    return seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """How often a failed step is tried again, and how long to wait in between.

    ``Retry(3)`` (or ``Retry(retries=3)``) tries a failing step three more times after its
    first attempt: four attempts in all, as ``retries=3`` does. The delay before retry
    ``n`` is ``base * 2 ** (n - 1)`` for exponential backoff (``base`` for constant), capped
    at ``max_delay``; with ``jitter`` it is drawn uniformly from ``[delay / 2, delay]``.
    """

    retries: int = 0
    backoff: Literal["exponential", "constant"] = "exponential"
    base: float = 1.0
    max_delay: float = 300.0
    jitter: bool = True

    def __init__(
        self,
        retries: int = 0,
        *,
        backoff: Literal["exponential", "constant"] = "exponential",
        base: float | str = 1.0,
        max_delay: float | str = 300.0,
        jitter: bool = True,
    ) -> None:
        try:
            if isinstance(retries, bool) or not isinstance(retries, int):
                raise ValueError(f"Retry(retries) must be a whole number, not {retries!r}")
            if retries < 0:
                raise ValueError(
                    f"Retry(retries) must be 0 or more (the retries after the first attempt), "
                    f"got {retries}"
                )
            if backoff not in ("exponential", "constant"):
                raise ValueError(
                    f"Retry(backoff) must be 'exponential' or 'constant', not {backoff!r}"
                )
            base_seconds = parse_duration(base, what="Retry(base)")
            max_delay_seconds = parse_duration(max_delay, what="Retry(max_delay)")
        except ValueError as error:
            raise _invalid(error) from None
        object.__setattr__(self, "retries", retries)
        object.__setattr__(self, "backoff", backoff)
        object.__setattr__(self, "base", base_seconds)
        object.__setattr__(self, "max_delay", max_delay_seconds)
        object.__setattr__(self, "jitter", bool(jitter))

    @property
    def max_attempts(self) -> int:
        """Attempts in all: the first one and its retries."""
        return self.retries + 1

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` (1-based) failed, before
        retry number ``failed_attempt``."""
        raw = self.base if self.backoff == "constant" else self.base * 2 ** (failed_attempt - 1)
        capped = min(raw, self.max_delay)
        if self.jitter and capped > 0:
            return (rng or random).uniform(capped / 2, capped)
        return capped

    @classmethod
    def coerce(cls, value: Retry | int | None) -> Retry:
        """``retries=3`` means three retries after the first attempt, with no delay."""
        if value is None:
            return cls(0)
        if isinstance(value, Retry):
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"retries must be a whole number >= 0 or lg.Retry(...), not {value!r}")
        return cls(value, base=0.0, jitter=False)


@dataclass(frozen=True, slots=True)
class LastGood:
    """Fallback for assets: when a materialization cannot be made, consumers get the last
    good one, flagged as a fallback, instead of nothing."""

    def __repr__(self) -> str:
        return "lg.last_good"


last_good = LastGood()

Fallback = LastGood | Callable[..., object]


CacheKey = Callable[[dict[str, Any]], object]
"""A cache key function: the step's inputs by parameter name in, its key out."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CachePolicy:
    """Reuse a previous successful result when the code version and inputs are the same.

    ``lg.cache.by_inputs`` never expires; ``lg.cache.by_inputs.within("1d")`` only reuses
    results younger than a day. ``lg.cache.by_key(fn)`` compares ``fn(inputs)`` instead of
    the inputs themselves.
    """

    expires_after: float | None = None
    key: CacheKey | None = None
    """Called with the step's inputs (a dict by parameter name, ``ctx`` left out); what it
    returns, with the step's name and code version, is the cache key. None: do not cache."""

    def within(self, duration: float | str) -> CachePolicy:
        try:
            return replace(self, expires_after=parse_duration(duration, what="cache expiry"))
        except ValueError as error:
            raise _invalid(error) from None


def cache_by_key(key: CacheKey) -> CachePolicy:
    """``lg.cache.by_key``: validated where the user wrote it."""
    if not callable(key):
        raise _invalid(ValueError(
            f"lg.cache.by_key takes a function of the step's inputs, not {key!r}; for "
            "example lg.cache.by_key(lambda inputs: lg.cache.file_digest(inputs['path']))"))
    return CachePolicy(key=key)


def _invalid(error: ValueError) -> DefinitionError:
    """A bad argument to ``lg.Retry(...)`` or a policy, located at the user's line."""
    where = caller_location()
    return DefinitionError([Problem(str(error), where.file, where.line)])
