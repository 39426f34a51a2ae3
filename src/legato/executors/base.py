"""The executor port: run one attempt's body, and run orchestration lanes concurrently.

An executor has two jobs. ``start_lane`` runs a piece of the engine's own work (a whole
step with its retries) concurrently with others. ``run_body`` runs one attempt of a
user function, capturing its output, within its timeout; ``submit_body`` does the same
without waiting, returning a future, so that an executor whose bodies run elsewhere (a
cluster) holds no thread of this process per body. ``capabilities`` says what an executor
does (``Capabilities``): the engine asks these flags, never an executor's name, so that an
executor of a plugin (``executors/registry.py``) is treated as the built-in ones are.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from legato.capture import Capture, Line, LogSink, capturing, remember_module
from legato.executors.lanes import Lanes


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyCall:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    is_async: bool
    timeout: float | None
    log_limit: int | None = None
    """Most bytes of output kept (``max_log_bytes``); the rest is dropped, with a marker."""
    log_level: int = logging.INFO
    """Lowest level of log records captured (``log_level``), for a worker process."""
    log_sink: LogSink | None = field(default=None, compare=False)
    """Where full chunks of output go while the body runs (not sent to worker processes)."""


@dataclass(slots=True, kw_only=True)
class BodyResult:
    ok: bool
    value: Any = None
    error: BaseException | None = None
    error_text: str | None = None
    traceback: str | None = None
    retryable: bool = True
    lines: list[Line] = field(default_factory=list)


class StepTimeoutError(Exception):
    """An attempt ran past its timeout."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What an executor does, as the engine needs to know it."""

    in_caller_thread: bool = False
    """Runs everything in the thread that started the run (for debuggers): the engine then
    drives the run in that thread too, and Ctrl-C reaches the step directly."""
    isolates_deaths: bool = False
    """A body runs in a process of its own: if that process dies, this one lives on and
    sees its exit code, so the engine needs no in-flight journal or quarantine for it."""
    kills_on_timeout: bool = False
    """A timed-out body is stopped; otherwise it is abandoned and left to end on its own."""
    needs_pickling: bool = False
    """Bodies, their arguments and values travel (pickled) to where they run."""
    remote: bool = False
    """Bodies run outside this machine's processes: the engine submits them
    (``submit_body``) and waits on the future rather than calling ``run_body``."""


class Executor(Protocol):
    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def start_lane(self, work: Callable[[], Any]) -> Future[Any]: ...

    def run_body(self, call: BodyCall) -> BodyResult: ...

    def submit_body(self, call: BodyCall) -> Future[BodyResult]:
        """Start one attempt's body without waiting for it; never raises for the body's own
        errors (they are in the ``BodyResult``)."""
        ...

    def close(self, *, cancel: bool = False) -> None: ...


def done(result: BodyResult) -> Future[BodyResult]:
    """A future already holding ``result``: ``submit_body`` of an executor that runs the
    body in the caller's thread."""
    future: Future[BodyResult] = Future()
    future.set_result(result)
    return future


def describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _run_coroutine(call: BodyCall) -> Any:
    """Run an async body on an event loop of its own, within its timeout. When this thread
    already runs a loop (an async flow on the inline executor), the body's loop runs in a
    helper thread while this one waits."""
    async def body() -> Any:
        coroutine = call.fn(*call.args, **call.kwargs)
        if call.timeout is None:
            return await coroutine
        return await asyncio.wait_for(coroutine, call.timeout)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(body())
    helper = Lanes(1, name="legato-async-step")  # a daemon: Ctrl-C need not wait for it
    try:
        return helper.submit(lambda: asyncio.run(body())).result()
    finally:
        helper.shutdown()


def invoke(call: BodyCall, into: Capture | None = None) -> BodyResult:
    """Run the body here, capturing output (``into`` a given capture, or a new one); never
    raises for the body's own errors. A process the body forked that comes back here ends
    at once (``forked_child_returned``)."""
    pid = os.getpid()
    remember_module(getattr(call.fn, "__globals__", {}))  # its loggers' names, as written
    with capturing(into or Capture(call.log_limit, call.log_sink)) as capture:
        try:
            value = _run_coroutine(call) if call.is_async else call.fn(*call.args, **call.kwargs)
            result = BodyResult(ok=True, value=value)
        except TimeoutError as error:
            failure: BaseException = error
            if call.is_async and call.timeout is not None:
                failure = StepTimeoutError(f"timed out after {call.timeout:g}s (the coroutine "
                                           "was cancelled)")
            result = BodyResult(ok=False, error=failure, error_text=describe(failure),
                                traceback=traceback.format_exc())
        except (Exception, SystemExit) as error:
            result = BodyResult(ok=False, error=error, error_text=describe(error),
                                traceback=traceback.format_exc())
        finally:
            if os.getpid() != pid:
                forked_child_returned(call, pid)
    result.lines = capture.finish()
    return result


def forked_child_returned(call: BodyCall, parent: int) -> None:
    """A process forked by a step's body returned from (or raised out of) the body: it must
    not go on as if it were the step's process, recording the step under the parent's lease.
    It ends here, without touching the store, and says so on stderr."""
    name = getattr(call.fn, "__qualname__", None) or repr(call.fn)
    message = (f"legato: process {os.getpid()}, forked by the body of step function "
               f"'{name}' (process {parent}), returned from the body; it exits here without "
               "recording anything, as only the step's own process may record its result "
               "(end a forked child with os._exit(), or use multiprocessing or subprocess)\n")
    try:
        os.write(2, message.encode("utf-8", "backslashreplace"))  # not sys.stderr: routed
    finally:
        os._exit(0)


def invoke_with_timeout(call: BodyCall) -> BodyResult:
    """``invoke``, abandoning a synchronous body that runs past its timeout (threads cannot
    be killed: it is marked timed out and left to finish on its own)."""
    if call.timeout is None or call.is_async:
        return invoke(call)
    box: list[BodyResult] = []
    capture = Capture(call.log_limit, call.log_sink)
    context = contextvars.copy_context()
    worker = threading.Thread(
        target=lambda: box.append(context.run(invoke, call, capture)), name="legato-step",
        daemon=True,
    )
    worker.start()
    worker.join(call.timeout)
    if box:
        return box[0]
    error = StepTimeoutError(
        f"timed out after {call.timeout:g}s; the thread was abandoned (threads cannot be "
        "killed: use executor='processes' to stop timed-out steps)"
    )
    # what it printed so far is kept; what it prints from now on is lost
    return BodyResult(ok=False, error=error, error_text=describe(error),
                      lines=capture.detach())
