"""Crash points, for the tests of the durability contract.

``LEGATO_FAULT=POINT`` (or ``POINT:N``) kills this process with SIGKILL the first (or the
Nth) time the engine passes ``POINT``, as a power cut or ``kill -9`` would. The points, in
the order a step passes them:

- ``after-claim``: an attempt's start is recorded (deferred), its body has not run;
- ``after-body``: the body returned, its value is not written yet;
- ``mid-value-write``: half of a value file is written (to its temporary name);
- ``after-value``: the value is written, the step's success is not committed;
- ``after-commit``: the success is committed, nobody downstream has heard of it yet.

Unset, a point costs the test of one module-level flag (``ARMED``).
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

POINTS = ("after-claim", "after-body", "mid-value-write", "after-value", "after-commit")

_point, _, _count = os.environ.get("LEGATO_FAULT", "").partition(":")
ARMED = bool(_point)
_remaining = [int(_count) if _count.isdigit() else 1]
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Die here if ``LEGATO_FAULT`` names this point and this is its Nth passage."""
    if name != _point:
        return
    with _lock:
        _remaining[0] -= 1
        if _remaining[0] > 0:
            return
    os.kill(os.getpid(), signal.SIGKILL)


def torn_write(path: Path, data: bytes) -> None:
    """Write the first half of ``data`` to ``path``, then pass ``mid-value-write``."""
    if _point != "mid-value-write":
        return
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        os.fsync(handle.fileno())
    crash_point("mid-value-write")
