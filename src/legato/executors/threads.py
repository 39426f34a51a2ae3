"""Steps in a pool of threads, bodies in the step's thread (default; good for I/O)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ClassVar

from legato.executors.base import (
    BodyCall,
    BodyResult,
    Capabilities,
    done,
    invoke_with_timeout,
)
from legato.executors.lanes import Lanes


class ThreadsExecutor:
    name: ClassVar[str] = "threads"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, max_parallel: int) -> None:
        self._max_parallel = max_parallel
        self._lanes = Lanes(max_parallel)
        self._bodies: Lanes | None = None

    def start_lane(self, work: Callable[[], Any]) -> Future[Any]:
        return self._lanes.submit(work)

    def run_body(self, call: BodyCall) -> BodyResult:
        return invoke_with_timeout(call)

    def submit_body(self, call: BodyCall) -> Future[BodyResult]:
        """The body in a thread of its own pool (the engine calls ``run_body`` in its lane
        instead: this is for a caller that must not wait)."""
        if self._bodies is None:
            self._bodies = Lanes(self._max_parallel, name="legato-body")
        return self._bodies.submit(lambda: invoke_with_timeout(call))

    def close(self, *, cancel: bool = False) -> None:
        self._lanes.shutdown(cancel=cancel)
        if self._bodies is not None:
            self._bodies.shutdown(cancel=cancel)


class InlineExecutor:
    """Everything in the calling thread, one step at a time: for debugging with pdb."""

    name: ClassVar[str] = "inline"
    capabilities: ClassVar[Capabilities] = Capabilities(in_caller_thread=True)

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

    def submit_body(self, call: BodyCall) -> Future[BodyResult]:
        """The body here, at once: the future is done when this returns."""
        return done(invoke_with_timeout(call))

    def close(self, *, cancel: bool = False) -> None:
        pass
