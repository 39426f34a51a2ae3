"""Runs: list them, show one with its steps, find one by its idempotency key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from legato.services.connect import ReadSource, reading
from legato.services.views.runs import LeaseView, RunView

if TYPE_CHECKING:
    from legato.services.views.steps import RunDetailView
    from legato.store.records import RunRecord


def run_view(record: RunRecord, *, with_lease: bool = False) -> RunView:
    """The view of a run's record; ``with_lease`` adds who holds a running run."""
    lease = None
    if with_lease and record.status == "running":
        from legato.engine.lease import may_take_over

        claim = may_take_over(record)
        lease = LeaseView(owner=record.lease_owner, expires_at=record.lease_expires_at,
                          resumable=claim.allowed, reason=claim.reason, wait_s=claim.wait_s)
    return RunView(
        run_id=record.run_id, kind=record.kind, target=record.target,
        status=str(record.status), params=dict(record.params), tags=tuple(record.tags),
        priority=record.priority, partition_key=record.partition_key,
        backfill_id=record.backfill_id, trigger_key=record.trigger_key,
        idempotency_key=record.idempotency_key, definitions=record.source,
        created_at=record.created_at, started_at=record.started_at,
        ended_at=record.ended_at, duration_s=record.duration, error=record.error,
        lease=lease)


def list_runs(source: ReadSource, *, status: str | None = None,
              target: str | None = None, since: float | None = None,
              limit: int = 20) -> list[RunView]:
    """The latest runs, newest first, of this status and target, started since then."""
    with reading(source) as store:
        found = store.list_runs(status=status, target=target, since=since, limit=limit)
    return [run_view(record) for record in found]


def get_run(source: ReadSource, run: str) -> RunView:
    """A run by its id, a unique prefix of it, or ``last``; ``RunNotFoundError`` if none."""
    with reading(source) as store:
        return run_view(store.get_run(run))


def show_run(source: ReadSource, run: str) -> RunDetailView:
    """A run (by its id, a unique prefix of it, or ``last``) with its steps and, when it is
    running, who holds it."""
    from legato.services.steps import step_view
    from legato.services.views.steps import RunDetailView

    with reading(source) as store:
        record = store.get_run(run)
        steps = store.get_steps(record.run_id)
    return RunDetailView(run=run_view(record, with_lease=True),
                         steps=tuple(step_view(step) for step in steps))


def find_by_idempotency_key(source: ReadSource, key: str) -> RunView | None:
    """The run submitted with this idempotency key, if any."""
    with reading(source) as store:
        found = store.find_run_by_idempotency_key(key)
    return None if found is None else run_view(found)
