"""Whether a process of this PID namespace exists: the one answer the lease (is a run's
holder dead?) and the value store (is a temporary file's writer dead?) both need."""

from __future__ import annotations

import os


def pid_exists(pid: int) -> bool:
    """True while ``pid`` names a live process here: this one, or any other, another
    user's included (``os.kill`` is refused); a zombie (dead, not yet reaped) is not live.
    The caller decides whether a pid means anything here (same host, PID namespace, boot);
    a live process that reused the pid counts as alive."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A process that died but was not reaped yet (its parent did not wait for it)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False
