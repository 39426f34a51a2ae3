"""What runs inside a worker process: unpickle the call, run it, send back the outcome.

The forkserver preloads this module, so that workers start with legato already imported.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
from typing import Any

import cloudpickle

from legato import capture
from legato.executors.base import BodyCall, invoke

_routed: list[object] = []


def worker_ready(semaphore: Any) -> None:
    """The pool's initializer: tell the parent that this worker has started."""
    semaphore.release()


def run_payload(payload: bytes, context: tuple[dict[str, str], list[str], str] | None = None
                ) -> dict[str, Any]:
    """Run one call. ``context`` (environment, ``sys.path``, working folder) is the
    caller's, for a body that ran in the caller's own process before (quarantine): the
    forkserver's are those of when it started."""
    if context is not None:
        environ, path, folder = context
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path
        with contextlib.suppress(OSError):
            os.chdir(folder)
    try:
        call: BodyCall = cloudpickle.loads(payload)
    except Exception as error:  # its module cannot be imported here, say
        return {"ok": False, "unsent": True, "retryable": False, "traceback": None,
                "lines": [], "value": None, "error": None,
                "error_text": "the step cannot be loaded in the worker process: "
                              f"{type(error).__name__}: {error}"}
    if not _routed:  # route this worker's output to step captures for its whole life
        routing = capture.routing(call.log_level)
        routing.__enter__()
        _routed.append(routing)
    result = invoke(call)
    outcome: dict[str, Any] = {
        "ok": result.ok, "error_text": result.error_text, "traceback": result.traceback,
        "lines": result.lines, "value": None, "retryable": True, "error": None,
    }
    if result.error is not None:  # the exception itself, for StepFailed.__cause__
        with contextlib.suppress(Exception):  # unless it cannot travel
            outcome["error"] = pickle.dumps(result.error, protocol=pickle.HIGHEST_PROTOCOL)
    if result.ok:
        try:
            outcome["value"] = pickle.dumps(result.value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            outcome.update(
                ok=False, retryable=False, unsent=True,
                error_text=f"the value ({type(result.value).__name__}) cannot be sent back "
                f"from the worker process: {error}",
            )
    return outcome
