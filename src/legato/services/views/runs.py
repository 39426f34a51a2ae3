"""The views of runs, their steps and their logs (see ``legato.services.views``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseView:
    """Who executes a running run, and whether another process may take it over."""

    owner: str | None
    """The process holding the run (``host:pid:nonce:space``)."""
    expires_at: float | None
    resumable: bool
    """True when its process died or its lease expired: ``legato resume`` continues it."""
    reason: str
    """Why it is (or is not) resumable."""
    wait_s: float
    """How long the lease still holds when it is not resumable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunView:
    """One run of a flow or of an asset selection."""

    run_id: str
    """The run's id; commands take it, a unique prefix of it, or ``last``."""
    kind: str
    """``flow`` or ``assets``."""
    target: str
    """The flow's name, or the asset selection (comma-separated asset keys)."""
    status: str
    """``queued``, ``running``, ``succeeded``, ``failed`` or ``canceled``."""
    params: dict[str, Any]
    """The run's parameters (a flow's arguments; ``ctx.params`` of assets)."""
    tags: tuple[str, ...]
    """Run tags, counted against the ``run_concurrency`` limits."""
    priority: int
    """Queued runs with a higher priority are claimed first."""
    partition_key: str | None
    """The partition its partitioned assets compute."""
    backfill_id: str | None
    """The backfill it belongs to."""
    trigger_key: str | None
    """The schedule, sensor or asset trigger that requested it."""
    idempotency_key: str | None
    """The key it was submitted with: a second submission gets this run."""
    definitions: str | None
    """Where the run's definitions were loaded from (a file or a module)."""
    created_at: float
    """When it was requested."""
    started_at: float | None
    """When a worker claimed it (a queued run); else None."""
    ended_at: float | None
    duration_s: float | None
    """From the start of its execution to its end; None while it runs."""
    error: str | None
    """Why it failed or was canceled."""
    lease: LeaseView | None = None
    """For a running run read on its own (``show``): who holds it."""


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
class RunLogsView:
    """A run's attempts (each with its outcome and traceback) and what they printed and
    logged, in the order written."""

    run: RunView
    attempts: tuple[AttemptView, ...]
    lines: tuple[LogLineView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmittedRunView:
    """A run just queued for a worker."""

    run_id: str
    flow: str
    """The flow (or task) it runs."""
    params: dict[str, Any]
    """Its parameters, as checked against the flow."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """How a run this process executed ended. ``output`` is the flow's return value (a
    Python object, not part of the JSON contract)."""

    run_id: str
    status: str
    output: Any = None
