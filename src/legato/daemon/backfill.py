"""Backfills: materialize many partitions of a selection of assets, one run per partition,
a few runs at a time.

``plan_backfill`` checks what was asked for (the selection, the range or list of keys)
and counts the partitions without holding them in memory; ``start_backfill`` saves it (or
finds the identical backfill still running, and picks it up). ``advance_backfill`` is one
step of its driver, called by the scheduler daemon each tick and by ``legato backfill``
in a loop: it enqueues the next partitions (after the backfill's cursor) while fewer
than ``max_concurrent`` of its runs are queued or running, and ends the backfill once
every partition has ended. Whoever executes queued runs (a worker) executes its runs.

A backfill survives restarts: its cursor and its runs are in the store, and a partition
is enqueued at most once per backfill (its run's idempotency key is
``backfill:<id>@<partition>``), so a resumed backfill never runs a finished partition
again. ``rerun_failed`` starts a new backfill of the partitions that failed in another.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from legato.definitions.definitions import Definitions
from legato.engine.partitioned import check_run_partition
from legato.engine.session import new_run_id
from legato.errors import LegatoError, PartitionError
from legato.graph.selection import Selection, resolve_selection
from legato.scheduler.partitions import Partitions
from legato.store.backfills import (
    BackfillRecord,
    BackfillStatus,
    create_backfill,
    enqueue_partitions,
    finish_backfill,
    get_backfill,
    list_backfills,
    partitions_with_status,
    run_counts,
)
from legato.store.events import RunTarget
from legato.store.queue import queued_event
from legato.store.records import RunStatus
from legato.store.sql_store import SqlStore

MAX_WITHOUT_YES = 10_000
"""Backfills of more partitions than this must be confirmed (``yes=True``, ``--yes``)."""
DEFAULT_MAX_CONCURRENT = 4
_FAILED = (RunStatus.FAILED, RunStatus.CANCELED)


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillProgress:
    """Where a backfill stands: its partitions by the status of their runs."""

    backfill_id: str
    status: BackfillStatus
    total: int
    succeeded: int
    failed: int
    """Partitions whose run failed or was canceled."""
    running: int
    queued: int
    error: str | None = None

    @property
    def done(self) -> int:
        """Partitions that have ended, well or not."""
        return self.succeeded + self.failed

    @property
    def finished(self) -> bool:
        return self.status != BackfillStatus.RUNNING

    def to_json(self) -> dict[str, Any]:
        return {"backfill_id": self.backfill_id, "status": str(self.status),
                "total": self.total, "succeeded": self.succeeded, "failed": self.failed,
                "running": self.running, "queued": self.queued, "error": self.error}


def backfill_partitions(definitions: Definitions, keys: Sequence[str]) -> Partitions:
    """The one partitions definition of the selected partitioned assets."""
    found: dict[Partitions, str] = {}
    for key in keys:
        partitions = definitions.assets[key].partitions
        if partitions is not None:
            found.setdefault(partitions, key)
    if not found:
        names = ", ".join(f"'{k}'" for k in keys[:5])
        raise PartitionError(
            f"{names} {'is' if len(keys) == 1 else 'are'} not partitioned: a backfill runs one "
            "run per partition",
            hint=f"materialize {'it' if len(keys) == 1 else 'them'} with: legato materialize "
            + " ".join(keys[:5]))
    if len(found) > 1:
        names = ", ".join(f"'{key}' ({p.describe()})" for p, key in found.items())
        raise PartitionError(
            f"the selected assets are partitioned differently ({names}); a backfill's runs "
            "each compute one partition key of all of them",
            hint="backfill them separately")
    return next(iter(found))


def plan_backfill(definitions: Definitions, selection: Selection, *,
                  first: str | None = None, last: str | None = None,
                  keys: Sequence[str] | None = None,
                  max_concurrent: int = DEFAULT_MAX_CONCURRENT,
                  params: Mapping[str, Any] | None = None, yes: bool = False,
                  rerun_of: str | None = None) -> BackfillRecord:
    """A new backfill of ``selection``: the partitions from ``first`` to ``last`` (both
    included; default: all, up to the last ended window) or the listed ``keys``; windows
    that have not ended yet are refused. Refuses
    (``PartitionError``, ``SelectionError``) what cannot run, and more than
    ``MAX_WITHOUT_YES`` partitions unless ``yes``. Nothing is saved yet."""
    if max_concurrent < 1:
        raise PartitionError(f"max_concurrent must be at least 1, not {max_concurrent}",
                             hint="--max-concurrent 4 runs four partitions at a time")
    selected = resolve_selection(definitions.graph, selection)
    partitions = backfill_partitions(definitions, selected)
    spec: dict[str, Any] = {"selection": selected, "params": dict(params or {}),
                            "source": definitions.source, "rerun_of": rerun_of}
    try:
        total, first_key = _partitions_asked(partitions, spec, first=first, last=last,
                                             keys=keys, yes=yes)
    except PartitionError as error:
        if error.hint is None:
            error.hint = f"the partitions are {partitions.describe()}"
        raise
    _confirm(total, yes)
    check_run_partition(definitions.graph, selected, first_key)  # the selection fits a run
    target = RunTarget.assets(selected).text
    return BackfillRecord(
        backfill_id=new_run_id(), kind="assets", target=target, spec=spec,
        status=BackfillStatus.RUNNING, max_concurrent=max_concurrent, total=total,
        cursor=None, created_at=time.time())


def _partitions_asked(partitions: Partitions, spec: dict[str, Any], *, first: str | None,
                      last: str | None, keys: Sequence[str] | None, yes: bool
                      ) -> tuple[int, str]:
    """Check the range or list of keys, and record it in ``spec``: how many partitions,
    and the first one."""
    now = dt.datetime.now(dt.UTC)  # only ended windows: a backfill computes the past
    if keys is not None:
        if first is not None or last is not None:
            raise PartitionError("give either a range (from, to) or a list of partitions, "
                                 "not both", hint="--from KEY --to KEY, or --partitions k1,k2")
        listed = list(dict.fromkeys(partitions.validate(k, now=now) for k in keys))
        if not listed:
            raise PartitionError("the list of partitions is empty",
                                 hint="--partitions 2026-01-01,2026-01-02")
        total, spec["keys"], first_key = len(listed), listed, listed[0]
    else:
        if first is not None:
            partitions.validate(first)
        if last is not None:
            partitions.validate(last, now=now)
        total, found_first, last_key = _count(partitions.keys(first, last, now=now), yes)
        if total == 0 or found_first is None:
            raise PartitionError(
                f"there are no partitions to backfill ({partitions.describe()}) in that range",
                hint="name a range of ended partitions: --from KEY --to KEY")
        spec["first"], spec["last"], first_key = found_first, last_key, found_first
    return total, first_key


def _count(keys: Iterator[str], yes: bool) -> tuple[int, str | None, str | None]:
    """How many keys, the first and the last, in one pass: refused past the limit early."""
    total, first, last = 0, None, None
    for key in keys:
        if first is None:
            first = key
        last = key
        total += 1
        if total > MAX_WITHOUT_YES and not yes:
            _confirm(total, yes, at_least=True)
    return total, first, last


def _confirm(total: int, yes: bool, *, at_least: bool = False) -> None:
    if total > MAX_WITHOUT_YES and not yes:
        count = f"more than {MAX_WITHOUT_YES:,}" if at_least else f"{total:,}"
        raise PartitionError(
            f"this backfill has {count} partitions; more than {MAX_WITHOUT_YES:,} must be "
            "confirmed",
            hint="add --yes (yes=True) to go ahead, or narrow the range with --from/--to")


def _same_request(a: BackfillRecord, b: BackfillRecord) -> bool:
    keys = ("selection", "first", "last", "keys", "params")
    return a.kind == b.kind and all(a.spec.get(k) == b.spec.get(k) for k in keys)


def start_backfill(store: SqlStore, planned: BackfillRecord) -> tuple[BackfillRecord, bool]:
    """Save a planned backfill; or, when an identical one is still running (its driver
    stopped, say), that one, to pick up where it was. Whether it is new."""
    for running in list_backfills(store, status=BackfillStatus.RUNNING, limit=100):
        if _same_request(running, planned):
            return running, False
    create_backfill(store, planned)
    return planned, True


def rerun_failed(store: SqlStore, definitions: Definitions, backfill_id: str, *,
                 max_concurrent: int | None = None, yes: bool = False) -> BackfillRecord:
    """A new backfill (not saved yet) of the partitions that failed or were canceled in
    backfill ``backfill_id``, which must have ended."""
    earlier = get_backfill(store, backfill_id)
    if earlier.status == BackfillStatus.RUNNING:
        raise PartitionError(
            f"backfill {earlier.backfill_id} is still running: its failed partitions are "
            "not known yet", hint=f"wait for it, or: legato backfills cancel "
            f"{earlier.backfill_id}")
    failed = list(partitions_with_status(store, earlier.backfill_id, _FAILED))
    if not failed:
        raise PartitionError(
            f"backfill {earlier.backfill_id} has no failed partitions to run again "
            f"(it {earlier.status})",
            hint=f"see legato backfills status {earlier.backfill_id}")
    return plan_backfill(definitions, earlier.spec["selection"], keys=failed,
                         max_concurrent=max_concurrent or earlier.max_concurrent,
                         params=earlier.spec.get("params"), yes=yes,
                         rerun_of=earlier.backfill_id)


def backfill_progress(store: SqlStore, backfill: BackfillRecord) -> BackfillProgress:
    return _progress(backfill, run_counts(store, backfill.backfill_id))


def _progress(backfill: BackfillRecord, counts: Mapping[str, int]) -> BackfillProgress:
    return BackfillProgress(
        backfill_id=backfill.backfill_id, status=backfill.status, total=backfill.total,
        succeeded=counts.get(RunStatus.SUCCEEDED, 0),
        failed=sum(counts.get(s, 0) for s in _FAILED),
        running=counts.get(RunStatus.RUNNING, 0), queued=counts.get(RunStatus.QUEUED, 0),
        error=backfill.error)


def advance_backfill(store: SqlStore, backfill: BackfillRecord | str,
                     definitions: Definitions) -> BackfillProgress:
    """One step of a backfill's driver: enqueue its next partitions while fewer than
    ``max_concurrent`` of its runs are queued or running; end it once all have ended
    (completed, or failed when some partition failed). Safe to call from several
    processes at once: planning is compare-and-set on the cursor."""
    current = get_backfill(store, backfill if isinstance(backfill, str)
                           else backfill.backfill_id)
    counts = run_counts(store, current.backfill_id)
    if current.status != BackfillStatus.RUNNING:
        return _progress(current, counts)
    active = counts.get(RunStatus.QUEUED, 0) + counts.get(RunStatus.RUNNING, 0)
    planned = sum(counts.values())
    room = current.max_concurrent - active
    exhausted = planned >= current.total
    if not exhausted and room > 0:
        try:
            keys = _next_keys(current, definitions, room)
        except LegatoError as error:  # the definitions changed under the backfill
            finish_backfill(store, current.backfill_id, BackfillStatus.FAILED,
                            f"cannot plan more partitions: {error}")
            return backfill_progress(store, get_backfill(store, current.backfill_id))
        exhausted = len(keys) < room
        if keys:
            if not enqueue_partitions(store, current.backfill_id, current.cursor, keys[-1],
                                      _requests(current, keys)):
                # another driver planned first (or the backfill ended): read it afresh
                return backfill_progress(store, get_backfill(store, current.backfill_id))
            counts = run_counts(store, current.backfill_id)
            active += len(keys)
    if exhausted and active == 0:
        failed = list(islice(partitions_with_status(store, current.backfill_id, _FAILED), 6))
        status = BackfillStatus.FAILED if failed else BackfillStatus.COMPLETED
        why = None
        if failed:
            n = sum(counts.get(s, 0) for s in _FAILED)
            shown = ", ".join(failed[:5]) + (", ..." if n > 5 else "")
            why = (f"{n} partition{'s' if n > 1 else ''} failed ({shown}); run them again "
                   f"with: legato backfill --rerun-failed {current.backfill_id}")
        if finish_backfill(store, current.backfill_id, status, why):
            current = replace(current, status=status, error=why, ended_at=time.time())
        else:
            current = get_backfill(store, current.backfill_id)
    return _progress(current, counts)


def _next_keys(backfill: BackfillRecord, definitions: Definitions, n: int) -> list[str]:
    """Up to ``n`` partition keys after the backfill's cursor."""
    spec = backfill.spec
    listed = spec.get("keys")
    if listed is not None:
        start = listed.index(backfill.cursor) + 1 if backfill.cursor is not None else 0
        return list(listed[start:start + n])
    selected = resolve_selection(definitions.graph, spec["selection"])
    partitions = backfill_partitions(definitions, selected)
    keys = partitions.keys(backfill.cursor or spec["first"], spec["last"])
    if backfill.cursor is not None:
        next(keys, None)  # the cursor itself was enqueued
    return list(islice(keys, n))


def _requests(backfill: BackfillRecord, keys: Sequence[str]) -> list[Any]:
    spec = backfill.spec
    bid = backfill.backfill_id
    return [queued_event(new_run_id(), kind="assets", target=backfill.target,
                         params=spec.get("params") or {}, source=spec.get("source"),
                         selection=spec["selection"], partition_key=key, backfill_id=bid,
                         trigger_key=f"backfill:{bid}", idempotency_key=f"backfill:{bid}@{key}")
            for key in keys]

