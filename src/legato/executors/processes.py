"""Step bodies in worker processes (CPU-bound work). A timed-out body's process is killed
and replaced. Functions travel with cloudpickle, so steps defined in a file or in
``__main__`` work too.

Workers fork from multiprocessing's forkserver, which has legato's worker module preloaded,
so that a worker is ready in milliseconds rather than after importing legato anew. Closing
waits (briefly) for workers that are still starting: stopping the pool under a starting
worker makes it die with a FileNotFoundError traceback on the terminal.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, ClassVar

import cloudpickle
from pebble import ProcessExpired, ProcessPool

from legato.capture import hand_over, routed_level
from legato.executors.base import (
    BodyCall,
    BodyResult,
    Capabilities,
    StepTimeoutError,
    describe,
    done,
)
from legato.executors.child import run_payload, worker_ready
from legato.executors.deaths import CannotSendError, ProcessDiedError
from legato.executors.lanes import Lanes

START_WAIT_S = 10.0
"""How long closing waits for workers that are still starting."""
CANCEL_START_WAIT_S = 1.0

_by_value: set[str] = set()
_preload_lock = threading.Lock()
_preloaded: list[bool] = []


def _forkserver() -> Any:
    context = multiprocessing.get_context("forkserver")
    with _preload_lock:
        if not _preloaded:  # effective only if the forkserver is not running yet
            context.set_forkserver_preload(["legato.executors.child"])
            _preloaded.append(True)
    return context


def _receive(call: BodyCall, future: Future[Any]) -> BodyResult:
    """What a worker process sent back for ``call`` (waiting for it), as a ``BodyResult``."""
    try:
        outcome: dict[str, Any] = future.result()
    except FutureTimeout:
        timed_out = StepTimeoutError(f"timed out after {call.timeout:g}s; its process was killed")
        return BodyResult(ok=False, error=timed_out, error_text=describe(timed_out))
    except CancelledError as error:
        return BodyResult(ok=False, error=error,
                          error_text="canceled: the worker process was stopped")
    except ProcessExpired as error:  # it died: killed, a segfault, out of memory
        died = ProcessDiedError(error.exitcode)
        died.__cause__ = error
        return BodyResult(ok=False, error=died, error_text=str(died))
    except Exception as error:
        return BodyResult(ok=False, error=error,
                          error_text=f"the worker process failed: {describe(error)}")
    value = None
    if outcome.get("unsent"):  # the call or its value could not travel
        unsent = CannotSendError(outcome["error_text"])
        return BodyResult(ok=False, retryable=False, error=unsent,
                          error_text=outcome["error_text"], lines=outcome["lines"])
    raised = _load_error(outcome.get("error"))
    # capped in the worker; written here in chunks, all but the last before the step ends
    lines = hand_over(outcome["lines"], call.log_sink)
    if outcome["ok"]:
        try:
            value = pickle.loads(outcome["value"])  # from our own worker
        except Exception as error:
            return BodyResult(ok=False, retryable=False, error=error,
                              error_text="the value sent back by the worker process "
                              f"cannot be loaded here: {describe(error)}", lines=lines)
    return BodyResult(ok=outcome["ok"], value=value, error=raised,
                      error_text=outcome["error_text"], traceback=outcome["traceback"],
                      retryable=outcome["retryable"], lines=lines)


def _load_error(data: bytes | None) -> BaseException | None:
    if data is None:
        return None
    try:
        error = pickle.loads(data)  # from our own worker
    except Exception:
        return None
    return error if isinstance(error, BaseException) else None


class _CountingContext:
    """The forkserver context, counting the worker processes the pool creates."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self._lock = threading.Lock()
        self.created = 0

    def Process(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (the context's API)
        with self._lock:
            self.created += 1
        return self._context.Process(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class ProcessesExecutor:
    name: ClassVar[str] = "processes"
    capabilities: ClassVar[Capabilities] = Capabilities(
        isolates_deaths=True, kills_on_timeout=True, needs_pickling=True)

    def __init__(self, max_parallel: int, *, carry_context: bool = False) -> None:
        """``carry_context``: each body runs with this process's environment, ``sys.path``
        and working folder as they are when it is sent (a step moved out of this process
        after its crash, see ``engine/step_runner.py``)."""
        self._carry_context = carry_context
        self._lanes = Lanes(max_parallel)
        context = _forkserver()
        self._context = _CountingContext(context)
        self._ready = context.Semaphore(0)
        self._pool = ProcessPool(max_workers=max_parallel, context=self._context,
                                 initializer=worker_ready, initargs=(self._ready,))
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def start_lane(self, work: Callable[[], Any]) -> Future[Any]:
        return self._lanes.submit(work)

    def run_body(self, call: BodyCall) -> BodyResult:
        sent = self._send(call)
        if isinstance(sent, BodyResult):
            return sent
        try:
            return _receive(call, sent)
        finally:
            with self._lock:
                self._pending.discard(sent)

    def submit_body(self, call: BodyCall) -> Future[BodyResult]:
        sent = self._send(call)
        if isinstance(sent, BodyResult):
            return done(sent)
        result: Future[BodyResult] = Future()

        def received(future: Future[Any]) -> None:
            with self._lock:
                self._pending.discard(future)
            result.set_result(_receive(call, future))

        sent.add_done_callback(received)
        return result

    def _send(self, call: BodyCall) -> Future[Any] | BodyResult:
        """The body on its way to a worker process (the pool's future), or why not."""
        module = getattr(call.fn, "__module__", "") or ""
        if module.startswith("legato_user_") and module not in _by_value:
            cloudpickle.register_pickle_by_value(sys.modules[module])
            _by_value.add(module)
        try:
            payload = cloudpickle.dumps(dataclasses.replace(
                call, log_sink=None, log_level=routed_level()))
        except Exception as error:
            unsent = CannotSendError(f"cannot send the step to a worker process: "
                                     f"{describe(error)}")
            unsent.__cause__ = error
            return BodyResult(ok=False, retryable=False, error=unsent, error_text=str(unsent))
        try:
            context = ((dict(os.environ), list(sys.path), os.getcwd())
                       if self._carry_context else None)
            future: Future[Any] = self._pool.schedule(run_payload, args=(payload, context),
                                                      timeout=call.timeout)
        except RuntimeError as error:  # the pool was stopped: the run is being canceled
            return BodyResult(ok=False, error=error, error_text=describe(error))
        with self._lock:
            self._pending.add(future)
        return future

    def _wait_for_starting_workers(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        ready = 0
        while ready < self._context.created and time.monotonic() < deadline:
            if self._ready.acquire(timeout=0.05):
                ready += 1

    def close(self, *, cancel: bool = False) -> None:
        self._lanes.shutdown(cancel=cancel)
        self._wait_for_starting_workers(CANCEL_START_WAIT_S if cancel else START_WAIT_S)
        if cancel:
            with self._lock:
                pending = list(self._pending)
            for future in pending:  # lanes waiting for these return at once
                future.cancel()
            self._pool.stop()  # type: ignore[no-untyped-call]
        else:
            self._pool.close()  # type: ignore[no-untyped-call]
        self._pool.join()
