"""Wake a worker waiting on an empty queue as soon as a run is enqueued: on PostgreSQL,
``enqueue`` sends ``NOTIFY legato_queue`` with its commit, and the worker ``LISTEN``s on a
connection of its own, in a thread that sets the worker's wake-up event.

(On SQLite, the worker polls: a look at an empty queue costs a few microseconds there.)
A lost connection only costs latency: the worker still polls, at a slower pace. A worker
asks for it through ``SqlStore.listen_for_queued``, which says whether the database can.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from legato.store.sql_store import SqlStore

logger = logging.getLogger(__name__)

CHANNEL = "legato_queue"
RECONNECT_S = 1.0


class QueueWakeup:
    """Sets ``wake`` whenever a run is enqueued, until ``stop()``."""

    def __init__(self, store: SqlStore, wake: threading.Event) -> None:
        self._store = store
        self._wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="legato-queue-listen",
                                        daemon=True)

    def start(self) -> QueueWakeup:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _listen(self) -> None:
        while not self._stop.is_set():
            raw: Any = None
            try:
                raw = self._store.engine.raw_connection()
                connection = raw.driver_connection
                connection.autocommit = True
                connection.execute(f"LISTEN {CHANNEL}")
                while not self._stop.is_set():
                    for _ in connection.notifies(timeout=0.5):
                        self._wake.set()
            except Exception as error:  # the server went away: listen again shortly
                logger.debug("queue wake-up: %s", error)
                self._stop.wait(RECONNECT_S)
            finally:
                if raw is not None:
                    with contextlib.suppress(Exception):
                        raw.invalidate()  # never hand a listening connection back to the pool
