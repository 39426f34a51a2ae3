"""The options every step (asset or task) accepts, parsed once at decoration time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from legato.definitions.options import CachePolicy, LastGood, Retry, parse_duration

IoFormat = Literal["auto", "json", "parquet", "pickle"]
IO_FORMATS: tuple[IoFormat, ...] = ("auto", "json", "parquet", "pickle")


@dataclass(frozen=True, slots=True, kw_only=True)
class StepOptions:
    retry: Retry
    timeout: float | None
    fallback: LastGood | Callable[..., Any] | None
    cache: CachePolicy | None
    tags: tuple[str, ...]
    io: IoFormat
    code_version: str | None
    executor: str | None = None
    """Where this step's bodies run, instead of the run's executor (``executor=``)."""


def parse_step_options(
    *,
    retries: Retry | int | None,
    timeout: float | str | None,
    fallback: LastGood | Callable[..., Any] | None,
    cache: CachePolicy | None,
    tags: Iterable[str] | None,
    io: str,
    code_version: str | None,
    allow_last_good: bool,
    executor: str | None = None,
) -> StepOptions:
    """Raise ValueError with a plain sentence for the first bad option."""
    retry = Retry.coerce(retries)
    seconds = parse_duration(timeout, what="timeout")
    if seconds is not None and seconds <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    if isinstance(fallback, LastGood):
        if not allow_last_good:
            raise ValueError(
                "fallback=lg.last_good is for assets (a task has no previous value); give a "
                "task a fallback function instead"
            )
    elif fallback is not None and not callable(fallback):
        raise ValueError(f"fallback must be lg.last_good or a function, not {fallback!r}")
    if cache is not None and not isinstance(cache, CachePolicy):
        raise ValueError(f"cache must be a policy such as lg.cache.by_inputs, not {cache!r}")
    if isinstance(tags, str):
        raise ValueError(f"tags must be a list of strings, not the string {tags!r}")
    tag_tuple = tuple(tags or ())
    if not all(isinstance(t, str) and t for t in tag_tuple):
        raise ValueError(f"tags must be non-empty strings, got {list(tag_tuple)!r}")
    if io not in IO_FORMATS:
        raise ValueError(f"io must be one of {', '.join(IO_FORMATS)}, not {io!r}")
    if code_version is not None and not isinstance(code_version, str):
        raise ValueError(f"code_version must be a string, not {code_version!r}")
    if executor is not None:  # a name must be known now; an import path loads at run start
        from legato.executors.registry import check_name

        check_name(executor)
    return StepOptions(
        executor=executor,
        retry=retry,
        timeout=seconds,
        fallback=fallback,
        cache=cache,
        tags=tag_tuple,
        io=io,
        code_version=code_version,
    )


STEP_OPTION_NAMES = (
    "name",
    "retries",
    "timeout",
    "fallback",
    "cache",
    "tags",
    "io",
    "code_version",
    "description",
    "executor",
)
