"""Steps in a pool of threads, bodies in the step's thread (default; good for I/O)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ClassVar

from legato.executors.base import BodyCall, BodyResult, invoke_with_timeout
from legato.executors.lanes import Lanes


class ThreadsExecutor:
    name: ClassVar[str] = "threads"
    kills_on_timeout: ClassVar[bool] = False

    def __init__(self, max_parallel: int) -> None:
        self._lanes = Lanes(max_parallel)

    def start_lane(self, work: Callable[[], Any]) -> Future[Any]:
        return self._lanes.submit(work)

    def run_body(self, call: BodyCall) -> BodyResult:
        return invoke_with_timeout(call)

    def close(self, *, cancel: bool = False) -> None:
        self._lanes.shutdown(cancel=cancel)


class InlineExecutor:
    """Everything in the calling thread, one step at a time: for debugging with pdb."""

    name: ClassVar[str] = "inline"
    kills_on_timeout: ClassVar[bool] = False

    def __init__(self, max_parallel: int = 1) -> None:
        del max_parallel

    def start_lane(self, work: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(work())
        except BaseException as error:
            future.set_exception(error)
            if not isinstance(error, Exception):
                raise
        return future

    def run_body(self, call: BodyCall) -> BodyResult:
        return invoke_with_timeout(call)

    def close(self, *, cancel: bool = False) -> None:
        pass
