"""A body's process died: how that is told, so that the engine can count it as the step's
own crash (``engine/step_runner.py``) and name its exit code or signal."""

from __future__ import annotations

import signal

DIED = "the process died while running this step"


def describe_exit(code: int | None) -> str:
    """``exit code 7``, ``signal 9 (SIGKILL)``, or ``exit code unknown``."""
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
        return f"signal {-code} ({name})"
    return f"exit code {code}"


class ProcessDiedError(Exception):
    """The process running a body (and nothing else) died: the body killed it, or was
    killed (a segfault, ``os._exit``, the out-of-memory killer)."""

    def __init__(self, exit_code: int | None) -> None:
        self.exit_code = exit_code
        super().__init__(f"{DIED} ({describe_exit(exit_code)})")


class CannotSendError(Exception):
    """A body (its function, arguments) could not be sent to a process of its own."""
