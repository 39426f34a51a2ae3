"""Drive one backfill to its end in this process: what ``legato backfill`` does.

The calling thread advances the backfill (``advance_backfill``) each time one of its runs
ends, and reports its progress; meanwhile a ``Worker`` in this process claims the queued
runs (the backfill's, and any other: it is a worker while it runs) and executes them, and
takes over runs left behind by a process that died. Stopping (``stop``, or Ctrl-C in the
calling thread) leaves the backfill running in the store: ``drive_backfill`` again picks
it up.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from legato.daemon.backfill import BackfillProgress, advance_backfill
from legato.daemon.worker import Worker
from legato.definitions.definitions import Definitions
from legato.settings import Settings
from legato.store.backfills import get_backfill
from legato.store.sql_store import SqlStore

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
    halt = threading.Event()
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        backfill = get_backfill(store, backfill_id)
        worker = Worker(settings, definitions=definitions, other_sources=True,
                        slots=slots or backfill.max_concurrent,
                        on_run_end=lambda _end: changed.set())
        executor = threading.Thread(target=worker.run, args=(halt,),
                                    name="legato-backfill-runs", daemon=True)
        executor.start()
        try:
            while True:
                changed.clear()
                progress = advance_backfill(store, backfill, definitions)
                worker.wake()
                if on_progress is not None:
                    on_progress(progress)
                if progress.finished or (stop is not None and stop.is_set()):
                    return progress
                changed.wait(poll_s)
        finally:
            halt.set()
            with contextlib.suppress(KeyboardInterrupt):
                executor.join(timeout=30.0)
