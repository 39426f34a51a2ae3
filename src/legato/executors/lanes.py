"""Lanes: the threads in which the engine runs steps (each with its retries) concurrently.

Like ``concurrent.futures.ThreadPoolExecutor``, but its threads are daemons: a run that was
canceled abandons the steps still running in threads (they cannot be interrupted), and an
abandoned step must not keep the interpreter from exiting. ``ThreadPoolExecutor`` joins all
its threads at exit, so Ctrl-C on a run with a long step would hang until the step ended.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_Item = tuple[Future[Any], Callable[[], Any]] | None


class Lanes:
    def __init__(self, size: int, *, name: str = "legato-lane") -> None:
        self._size = max(1, size)
        self._name = name
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, work: Callable[[], Any]) -> Future[Any]:
        """Run ``work`` in a lane, in a copy of the caller's context."""
        future: Future[Any] = Future()
        context = contextvars.copy_context()
        with self._lock:
            if self._closed:
                raise RuntimeError("the executor is closed; no new step can start")
            self._queue.put((future, lambda: context.run(work)))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._size:
                thread = threading.Thread(target=self._serve, daemon=True,
                                          name=f"{self._name}-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        return future

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, work = item
            if not future.set_running_or_notify_cancel():
                self._idle.release()
                continue
            try:
                result = work()
            except BaseException as error:
                self._idle.release()  # idle before the caller hears of it: no extra thread
                future.set_exception(error)
            else:
                self._idle.release()
                future.set_result(result)
            del future, work, item

    def shutdown(self, *, cancel: bool = False) -> None:
        """No new work; with ``cancel``, work not yet started is canceled. Returns without
        waiting: lanes still running finish on their own (or are abandoned at exit)."""
        with self._lock:
            self._closed = True
            if cancel:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            for _ in self._threads:
                self._queue.put(None)
