"""Backfills: start one (or rerun a backfill's failed partitions), list them, read one's
progress, cancel it, and drive a running one to its end in this process."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

from legato.errors import PartitionError
from legato.services.connect import writing
from legato.services.views.backfills import BackfillCancelView, BackfillProgressView, BackfillView

if TYPE_CHECKING:
    from legato.daemon.backfill import BackfillProgress
    from legato.definitions.definitions import Definitions
    from legato.services.connect import StoreSource
    from legato.settings import Settings
    from legato.store.backfills import BackfillRecord
    from legato.store.sql_store import SqlStore

FAILED_SHOWN = 1000
"""At most this many failed partitions in a backfill's view."""


def _view(store: SqlStore, record: BackfillRecord, *,
          failed_partitions: bool = False) -> BackfillView:
    from legato.daemon.backfill import backfill_progress
    from legato.store.backfills import partitions_with_status

    p = backfill_progress(store, record)
    spec = record.spec
    failed = (tuple(islice(partitions_with_status(store, record.backfill_id,
                                                  ("failed", "canceled")), FAILED_SHOWN))
              if failed_partitions else None)
    keys = spec.get("keys")
    return BackfillView(
        backfill_id=record.backfill_id, target=record.target, status=str(p.status),
        total=p.total, succeeded=p.succeeded, failed=p.failed, running=p.running,
        queued=p.queued, error=p.error, selection=tuple(spec.get("selection", ())),
        first=spec.get("first"), last=spec.get("last"),
        keys=tuple(keys) if keys is not None else None, params=dict(spec.get("params") or {}),
        rerun_of=spec.get("rerun_of"), definitions=spec.get("source"),
        max_concurrent=record.max_concurrent, cursor=record.cursor,
        created_at=record.created_at, ended_at=record.ended_at, failed_partitions=failed)


def progress_view(p: BackfillProgress) -> BackfillProgressView:
    return BackfillProgressView(
        backfill_id=p.backfill_id, status=str(p.status), total=p.total,
        succeeded=p.succeeded, failed=p.failed, running=p.running, queued=p.queued,
        error=p.error)


def list_backfills(source: StoreSource, *, limit: int = 20) -> list[BackfillView]:
    """The backfills, newest first, with their progress."""
    from legato.store.backfills import list_backfills as read_backfills

    with writing(source) as store:
        return [_view(store, record) for record in read_backfills(store, limit=limit)]


def get_backfill(source: StoreSource, backfill_id: str) -> BackfillView:
    """One backfill (its id, a unique prefix of it, or ``last``), with its progress and
    its failed partitions; ``BackfillNotFoundError`` if none."""
    from legato.store.backfills import get_backfill as read_backfill

    with writing(source) as store:
        return _view(store, read_backfill(store, backfill_id), failed_partitions=True)


def cancel_backfill(source: StoreSource, backfill_id: str) -> BackfillCancelView:
    """Cancel a backfill: its queued runs are canceled, running ones finish, no more
    partitions are enqueued."""
    from legato.store.backfills import cancel_backfill as cancel
    from legato.store.backfills import get_backfill as read_backfill

    with writing(source) as store:
        record = read_backfill(store, backfill_id)
        canceled = cancel(store, record.backfill_id, "canceled by the user")
        record = read_backfill(store, record.backfill_id)
    return BackfillCancelView(backfill_id=record.backfill_id, status=str(record.status),
                              canceled_runs=canceled or 0, already_ended=canceled is None)


def start_backfill(source: StoreSource, definitions: Definitions,
                   selection: Sequence[str], *, first: str | None = None,
                   last: str | None = None, keys: Sequence[str] | None = None,
                   max_concurrent: int | None = None,
                   params: Mapping[str, Any] | None = None,
                   yes: bool = False) -> tuple[BackfillView, bool]:
    """Plan and save a backfill of these partitions of the selection; or, when an
    identical one is still running, that one (to pick up where it was). Whether it is
    new."""
    from legato.daemon.backfill import DEFAULT_MAX_CONCURRENT, plan_backfill
    from legato.daemon.backfill import start_backfill as save

    planned = plan_backfill(definitions, list(selection), first=first, last=last,
                            keys=list(keys) if keys is not None else None,
                            max_concurrent=max_concurrent or DEFAULT_MAX_CONCURRENT,
                            params=dict(params or {}), yes=yes)
    with writing(source) as store:
        check_upstream_partitions(store, definitions, planned)
        record, new = save(store, planned)
        return _view(store, record), new


def check_upstream_partitions(store: SqlStore, definitions: Definitions,
                              planned: BackfillRecord) -> None:
    """Refuse a backfill whose partitions read partitions of an upstream asset outside its
    selection that were never materialized, as ``materialize`` refuses a run, before any
    run is queued: ``MissingUpstreamError`` names every missing partition of the first
    such upstream (not one failed run per partition)."""
    from legato.daemon.backfill import backfill_partitions
    from legato.engine.external import check_upstream
    from legato.errors import MissingUpstreamError

    selected = list(planned.spec["selection"])
    listed = planned.spec.get("keys")
    keys = (iter(listed) if listed is not None else backfill_partitions(
        definitions, selected).keys(planned.spec["first"], planned.spec["last"]))
    first: MissingUpstreamError | None = None
    missing: dict[str, None] = {}
    for key in keys:
        try:
            check_upstream(store, definitions.graph, selected, key)
        except MissingUpstreamError as error:
            if first is None:
                first = error
            if error.upstream == first.upstream:
                missing.update(dict.fromkeys(error.missing))
    if first is None:
        return
    found = sorted(missing)
    shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    raise MissingUpstreamError(
        f"the backfill needs partition(s) {shown} of '{first.upstream}', which have never "
        "been materialized; nothing was started",
        upstream=first.upstream, missing=found, more=first.more,
        upstream_has_upstream=first.upstream_has_upstream, then="this backfill again")


def rerun_failed(source: StoreSource, definitions: Definitions, backfill_id: str, *,
                 max_concurrent: int | None = None,
                 yes: bool = False) -> tuple[BackfillView, bool]:
    """A new backfill of the partitions that failed or were canceled in an ended one
    (or the identical one still running). Whether it is new."""
    from legato.daemon.backfill import rerun_failed as plan_rerun
    from legato.daemon.backfill import start_backfill as save

    with writing(source) as store:
        planned = plan_rerun(store, definitions, backfill_id,
                             max_concurrent=max_concurrent, yes=yes)
        record, new = save(store, planned)
        return _view(store, record), new


def resumable_backfill(source: StoreSource, backfill_id: str) -> BackfillView:
    """A backfill still running, to drive here; one that has ended raises, saying what to
    do instead."""
    view = get_backfill(source, backfill_id)
    if view.status != "running":
        raise PartitionError(
            f"backfill {view.backfill_id} has ended ({view.status}): there is nothing "
            "to resume",
            hint=f"run its failed partitions again: legato backfill --rerun-failed "
            f"{view.backfill_id}" if view.status != "completed"
            else f"see legato backfills status {view.backfill_id}")
    return view


def drive_backfill(settings: Settings, backfill_id: str, definitions: Definitions, *,
                   on_progress: Callable[[BackfillProgressView], None] | None = None
                   ) -> BackfillProgressView:
    """Advance and execute a backfill here until it ends; its progress as last seen."""
    from legato.daemon.backfill_driver import drive_backfill as drive

    def report(p: BackfillProgress) -> None:
        if on_progress is not None:
            on_progress(progress_view(p))

    return progress_view(drive(settings, backfill_id, definitions, on_progress=report))
