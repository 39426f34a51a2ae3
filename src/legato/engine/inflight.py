"""Which step bodies this process is running, readable after it died.

A step's start is deferred to the commit that ends it (a step costs one commit), so a
process that dies in the middle of a body — ``os._exit``, a segfault, the out-of-memory
killer — may leave nothing in the store that names the step it was running. The journal
names it: a small file per process (``<home>/inflight/<host>-<pid>-<space>``) mapped into
memory, with one slot per body under way (``run id``, ``step key``, ``attempt``), written
before the body starts and cleared after it returns. Writing a slot is a store to memory
(about a microsecond); the kernel keeps the page when the process dies, so a process of
the same host that takes the run over (it saw the holder die: ``lease.owner_is_dead``) reads
which steps the dead process was running and records the crash against them.

It is a hint that makes the common case exact, never a source of truth: a process of
another host (or that cannot read the file) learns what the store recorded instead.
"""

from __future__ import annotations

import atexit
import contextlib
import mmap
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from legato.engine.lease import pid_space

SLOT = 256
SLOTS = 1024


@dataclass(frozen=True, slots=True)
class InFlight:
    """One body a process was running."""

    run_id: str
    step_key: str
    attempt: int


def journal_path(folder: Path, host: str, pid: int, space: str) -> Path:
    return folder / f"{host}-{pid}-{space}".replace("/", "_")


class Journal:
    """This process's in-flight bodies (one per process and folder: ``journal``)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, SLOT * SLOTS)
            self._map = mmap.mmap(fd, SLOT * SLOTS)
        finally:
            os.close(fd)
        self.path = path
        self._free = list(range(SLOTS - 1, -1, -1))
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def enter(self, run_id: str, step_key: str, attempt: int) -> int | None:
        """Note a body about to start; its slot (None when it cannot be noted)."""
        entry = f"{run_id}\t{step_key}\t{attempt}\n".encode("utf-8", "surrogateescape")
        if len(entry) > SLOT or os.getpid() != self._pid:  # too long, or a forked child
            return None
        with self._lock:
            if not self._free:
                return None
            slot = self._free.pop()
            self._map[slot * SLOT:slot * SLOT + len(entry)] = entry
        return slot

    def leave(self, slot: int | None) -> None:
        if slot is None or os.getpid() != self._pid:
            return
        with self._lock:
            self._map[slot * SLOT] = 0  # a slot is read up to its first newline
            self._free.append(slot)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._map.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


_journals: dict[Path, Journal] = {}
_journals_lock = threading.Lock()


def journal(folder: Path) -> Journal | None:
    """This process's journal in ``folder``; None when it cannot be written there (a
    read-only home: crashes are then told from what the store recorded)."""
    with _journals_lock:
        found = _journals.get(folder)
        if found is not None and found._pid == os.getpid():
            return found
        try:
            made = Journal(journal_path(folder, socket.gethostname(), os.getpid(),
                                        pid_space()))
        except (OSError, ValueError):
            return None
        _journals[folder] = made
        return made


def read_in_flight(folder: Path, owner_process: tuple[str, int, str], run_id: str
                   ) -> list[InFlight]:
    """What the (dead) process ``owner_process`` (host, pid, space) was running of run
    ``run_id``, from its journal in ``folder``; empty when there is none."""
    host, pid, space = owner_process
    try:
        data = journal_path(folder, host, pid, space).read_bytes()
    except OSError:
        return []
    found = []
    for start in range(0, len(data), SLOT):
        entry = data[start:start + SLOT].split(b"\n", 1)[0]
        parts = entry.decode("utf-8", "surrogateescape").split("\t")
        if len(parts) == 3 and parts[0] == run_id and parts[2].isdigit():
            found.append(InFlight(parts[0], parts[1], int(parts[2])))
    return found


@atexit.register
def _close_all() -> None:
    with _journals_lock:
        for made in _journals.values():
            if made._pid == os.getpid():
                made.close()
        _journals.clear()
