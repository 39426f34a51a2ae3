"""Step bodies in worker processes (CPU-bound work). A timed-out body's process is killed
and replaced. Functions travel with cloudpickle, so steps defined in a file or in
``__main__`` work too."""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, ClassVar

import cloudpickle
from pebble import ProcessPool

from legato.executors.base import BodyCall, BodyResult, StepTimeout, describe
from legato.executors.child import run_payload

_by_value: set[str] = set()


class ProcessesExecutor:
    name: ClassVar[str] = "processes"
    kills_on_timeout: ClassVar[bool] = True

    def __init__(self, max_parallel: int) -> None:
        self._lanes = ThreadPoolExecutor(max_parallel, thread_name_prefix="legato-lane")
        self._pool = ProcessPool(
            max_workers=max_parallel, context=multiprocessing.get_context("forkserver")
        )

    def start_lane(self, work: Callable[[], Any]) -> Future[Any]:
        import contextvars

        return self._lanes.submit(contextvars.copy_context().run, work)

    def run_body(self, call: BodyCall) -> BodyResult:
        module = getattr(call.fn, "__module__", "") or ""
        if module.startswith("legato_user_") and module not in _by_value:
            cloudpickle.register_pickle_by_value(sys.modules[module])
            _by_value.add(module)
        try:
            payload = cloudpickle.dumps(call)
        except Exception as error:
            return BodyResult(ok=False, retryable=False, error=error,
                              error_text=f"cannot send the step to a worker process: "
                              f"{describe(error)}")
        future = self._pool.schedule(run_payload, args=(payload,), timeout=call.timeout)
        try:
            outcome: dict[str, Any] = future.result()
        except FutureTimeout:
            error = StepTimeout(f"timed out after {call.timeout:g}s; its process was killed")
            return BodyResult(ok=False, error=error, error_text=describe(error))
        except Exception as error:  # the worker died (killed, segfault, out of memory)
            return BodyResult(ok=False, error=error,
                              error_text=f"the worker process died: {describe(error)}")
        return BodyResult(ok=outcome["ok"], value=outcome["value"],
                          error_text=outcome["error_text"], traceback=outcome["traceback"],
                          retryable=outcome["retryable"], lines=outcome["lines"])

    def close(self, *, cancel: bool = False) -> None:
        if cancel:
            self._pool.stop()
        else:
            self._pool.close()
        self._pool.join()
        self._lanes.shutdown(wait=not cancel, cancel_futures=cancel)
