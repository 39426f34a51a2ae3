"""The views of a run's steps, their attempts and their logs (see
``legato.services.views``)."""

from __future__ import annotations

from dataclasses import dataclass

from legato.services.views.runs import RunView


@dataclass(frozen=True, slots=True, kw_only=True)
class StepView:
    """One step of a run: an asset, or one task call."""

    step_key: str
    """The asset's key, or the task's name in call order (``fetch-2``, ``fetch[0]``)."""
    name: str
    """The asset's or task's name."""
    kind: str
    """``asset`` or ``task``."""
    status: str
    """``running``, ``retrying``, ``succeeded``, ``cached``, ``fallback``, ``failed``,
    ``skipped`` or ``canceled``."""
    attempts: int
    """How many attempts ran (one, plus one per retry)."""
    started_at: float | None
    ended_at: float | None
    duration_s: float | None
    error: str | None
    """The last attempt's error (``Type: message``)."""
    traceback: str | None
    """The last failed attempt's traceback."""
    reason: str | None
    """Why it was skipped, cached or fell back."""
    upstream: tuple[str, ...]
    """The step keys it depends on."""
    tags: tuple[str, ...]
    """Its tags (concurrency limits apply per tag)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunDetailView:
    """A run with its steps, in the order they started."""

    run: RunView
    steps: tuple[StepView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptView:
    """One try at a step's body, and how it ended."""

    step_key: str
    attempt: int
    """1 for the first attempt, 2 for the first retry, ..."""
    of: int | None
    """How many attempts the step took in all, once it ended; None while it runs."""
    status: str
    """``running``, ``succeeded`` or ``failed``."""
    started_at: float | None
    ended_at: float | None
    duration_s: float | None
    error: str | None
    """Why it failed (``Type: message``)."""
    traceback: str | None
    next: str | None
    """After a failed attempt: ``retry``, ``fallback`` or ``fail``."""
    crashed: bool
    """True when its process died while running it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLineView:
    """One line a step printed or logged, in one attempt."""

    run_id: str
    step_key: str
    attempt: int
    """The attempt that wrote it (1 for the first)."""
    at: float
    stream: str
    """``stdout``, ``stderr`` or ``log``."""
    level: int
    """The Python logging level (20 INFO, 30 WARNING, ...)."""
    level_name: str
    """The level's name: ``INFO``, ``WARNING``, ..."""
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunLogsView:
    """A run's attempts (each with its outcome and traceback) and what they printed and
    logged, in the order written."""

    run: RunView
    attempts: tuple[AttemptView, ...]
    lines: tuple[LogLineView, ...]
