"""The views of runs (see ``legato.services.views``)."""

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


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderWayView:
    """A run that a stopping process still executes: what its shutdown waits for."""

    run_id: str
    target: str
    """The flow's name, or the asset selection."""
    running_steps: tuple[str, ...]
    """The steps of the run running now, by step key."""
