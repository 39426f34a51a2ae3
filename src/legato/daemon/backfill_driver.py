"""Drive one backfill to its end in this process: what ``legato backfill`` does.

The calling thread advances the backfill (``advance_backfill``) each time one of its runs
ends, and reports its progress; meanwhile ``_execute_queued_runs`` claims queued runs and
executes them in a few threads, like a worker would, and takes over the backfill's runs
left behind by a process that died. Stopping (``stop``, or Ctrl-C in the calling thread)
leaves the backfill running in the store: ``drive_backfill`` again picks it up.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from legato.daemon.backfill import BackfillProgress, advance_backfill
from legato.definitions.definitions import Definitions
from legato.engine.lease import new_owner
from legato.engine.resume import execute_claimed, resumable_runs, resume_run
from legato.engine.runner import Runner
from legato.errors import IllegalTransition, RunInProgressError, StoreError
from legato.settings import Settings
from legato.store import queue
from legato.store.backfills import get_backfill
from legato.store.records import Event, Lease, RunRecord
from legato.store.sql_store import SqlStore

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[BackfillProgress], None]
_ORPHANS_EVERY_S = 1.0


def drive_backfill(settings: Settings, backfill_id: str, definitions: Definitions, *,
                   slots: int | None = None, stop: threading.Event | None = None,
                   on_progress: ProgressCallback | None = None,
                   poll_s: float = 0.5) -> BackfillProgress:
    """Advance and execute backfill ``backfill_id`` until it ends (or ``stop`` is set);
    its progress, as last seen. ``slots``: runs executed at once (default: the backfill's
    ``max_concurrent``)."""
    changed = threading.Event()  # a run ended: advance now
    work = threading.Condition()  # runs were enqueued: claim now
    halt = threading.Event()
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        backfill = get_backfill(store, backfill_id)
        executor = threading.Thread(
            target=_execute_queued_runs, name="legato-backfill-runs",
            args=(settings, definitions),
            kwargs={"slots": slots or backfill.max_concurrent, "halt": halt, "work": work,
                    "run_ended": changed.set, "backfill_id": backfill.backfill_id},
            daemon=True)
        executor.start()
        try:
            while True:
                changed.clear()
                progress = advance_backfill(store, backfill, definitions)
                with work:
                    work.notify_all()
                if on_progress is not None:
                    on_progress(progress)
                if progress.finished or (stop is not None and stop.is_set()):
                    return progress
                changed.wait(poll_s)
        finally:
            halt.set()
            with work:
                work.notify_all()
            with contextlib.suppress(KeyboardInterrupt):
                executor.join(timeout=30.0)


def _execute_queued_runs(settings: Settings, definitions: Definitions, *, slots: int,
                         halt: threading.Event, work: threading.Condition,
                         run_ended: Callable[[], None], backfill_id: str) -> None:
    """Claim queued runs and execute them, ``slots`` at a time, until ``halt``; call
    ``run_ended`` after each. Runs of backfill ``backfill_id`` use ``definitions``; others
    load theirs from where they were requested. Also resumes the backfill's runs whose
    process died.

    What a worker (``legato serve``) does: kept in this one function so that it can be
    swapped for the worker's loop."""
    runner = Runner(settings)
    owner = new_owner()

    def loop(first: bool) -> None:
        with SqlStore(settings.store_url, durability=settings.durability) as store:
            orphans_at = 0.0
            while not halt.is_set():
                try:
                    if first and time.monotonic() - orphans_at > _ORPHANS_EVERY_S:
                        orphans_at = time.monotonic()
                        _resume_orphans(runner, store, definitions, backfill_id, run_ended)
                    claimed = queue.claim(store, owner, settings.lease_ttl)
                except StoreError as error:  # the store is busy or away: try again soon
                    logger.warning("cannot claim queued runs: %s", error)
                    halt.wait(1.0)
                    continue
                if not claimed:
                    with work:
                        work.wait(0.2)
                    continue
                run = claimed[0]
                given = definitions if run.backfill_id == backfill_id else None
                try:
                    execute_claimed(runner, run, definitions=given)
                except Exception as error:
                    _fail_claimed(store, run, settings.lease_ttl, error)
                run_ended()

    threads = [threading.Thread(target=loop, args=(i == 0,), name=f"legato-backfill-{i}",
                                daemon=True) for i in range(max(1, slots))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _resume_orphans(runner: Runner, store: SqlStore, definitions: Definitions,
                    backfill_id: str, run_ended: Callable[[], None]) -> None:
    """Resume the backfill's runs left running by a process that died."""
    for run in resumable_runs(store):
        if run.backfill_id != backfill_id:
            continue
        try:
            resume_run(runner, run.run_id, definitions=definitions)
        except RunInProgressError:
            continue  # another process took it first
        except Exception as error:
            logger.warning("could not resume run %s of backfill %s: %s", run.run_id,
                           backfill_id, error)
            continue
        run_ended()


def _fail_claimed(store: SqlStore, run: RunRecord, ttl: float, error: Exception) -> None:
    """A claimed run that could not execute (its definitions or upstream partitions are
    missing...) is recorded as failed, with the reason; unless it ended meanwhile."""
    if run.lease_owner is None or run.lease_token is None:
        return
    hint = getattr(error, "hint", None)
    message = f"{error}" + (f" (hint: {hint})" if hint else "")
    lease = Lease(run.run_id, run.lease_owner, run.lease_token, ttl)
    try:
        store.commit([Event(run.run_id, None, None, "run_failed", time.time(),
                            {"error": message})], lease=lease)
    except (IllegalTransition, StoreError):
        logger.warning("run %s failed and could not be recorded so: %s", run.run_id, message)
