"""The queue: runs waiting for a worker, and queuing one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from legato.services.connect import StoreSource, writing
from legato.services.runs import run_view
from legato.services.views.runs import RunView, SubmittedRunView

if TYPE_CHECKING:
    from legato.definitions.flow import FlowDefinition
    from legato.definitions.task import TaskDefinition
    from legato.settings import Settings


def queued_runs(source: StoreSource, *, target: str | None = None,
                since: float | None = None, limit: int = 20) -> list[RunView]:
    """The queued runs, in the order workers claim them (priority, then age)."""
    from legato.store.queue import queued_runs as read_queue

    with writing(source) as store:
        waiting = read_queue(store, target=target or None, since=since, limit=limit)
    return [run_view(record) for record in waiting]


def queue_run(settings: Settings, flow: FlowDefinition[Any, Any] | TaskDefinition[Any, Any],
              params: Mapping[str, Any], *, idempotency_key: str | None = None,
              priority: int = 0, tags: Sequence[str] = (),
              source: str | None = None) -> SubmittedRunView:
    """Queue a run of ``flow`` for a worker; with ``idempotency_key``, at most once (the
    run first queued with it is the answer)."""
    from legato.engine.enqueue import trigger_run

    run_id = trigger_run(flow, params=params, idempotency_key=idempotency_key,
                         priority=priority, tags=tags, settings=settings, source=source)
    return SubmittedRunView(run_id=run_id, flow=flow.name, params=dict(params))
