"""The views of backfills and their progress (see ``legato.services.views``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillProgressView:
    """Where a backfill stands: its partitions by the status of their runs (what its
    driver reports as it goes)."""

    backfill_id: str
    status: str
    """``running``, ``completed``, ``failed`` or ``canceled``."""
    total: int
    """How many partitions it covers."""
    succeeded: int
    """Partitions whose run succeeded."""
    failed: int
    """Partitions whose run failed or was canceled."""
    running: int
    """Partitions whose run is running."""
    queued: int
    """Partitions whose run waits for a worker."""
    error: str | None

    @property
    def done(self) -> int:
        """Partitions that have ended, well or not."""
        return self.succeeded + self.failed

    @property
    def finished(self) -> bool:
        return self.status != "running"


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillView(BackfillProgressView):
    """A backfill: what was asked for, and where it stands (the fields of
    ``BackfillProgressView`` first)."""

    target: str
    """The asset selection, as its runs' target."""
    selection: tuple[str, ...]
    """The asset selection asked for."""
    first: str | None
    """The first partition of a range."""
    last: str | None
    """The last partition of a range, included."""
    keys: tuple[str, ...] | None
    """The partitions asked for, when not a range."""
    params: dict[str, Any]
    """The parameters of its runs."""
    rerun_of: str | None
    """The backfill whose failed partitions this one runs again."""
    definitions: str | None
    """Where its definitions were loaded from (a file or a module)."""
    max_concurrent: int
    """Runs queued or running at once, at most."""
    cursor: str | None
    """The last partition key it enqueued."""
    created_at: float
    ended_at: float | None
    """When it ended; None while it runs."""
    failed_partitions: tuple[str, ...] | None = None
    """For one backfill read on its own: the partitions that failed or were canceled (at
    most 1,000)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillCancelView:
    """A backfill after it was canceled: how many of its queued runs were canceled
    (running ones finish)."""

    backfill_id: str
    status: str
    canceled_runs: int
    """Its queued runs that were canceled."""
    already_ended: bool
    """True when it had ended before: nothing was canceled."""
