"""The in-flight journal: what a process notes of the bodies it runs can be read by another
process, for one run at a time, and a cleared slot names nothing."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from legato.engine.inflight import InFlight, Journal, journal_path, read_in_flight
from legato.engine.lease import pid_space


def test_bodies_under_way_are_read_back_per_run(tmp_path: Path) -> None:
    me = (socket.gethostname(), os.getpid(), pid_space())
    notes = Journal(journal_path(tmp_path, *me))
    try:
        a = notes.enter("run-a", "fetch[3]", 2)
        b = notes.enter("run-b", "load", 1)
        done = notes.enter("run-a", "parse", 1)
        notes.leave(done)
        assert read_in_flight(tmp_path, me, "run-a") == [InFlight("run-a", "fetch[3]", 2)]
        assert read_in_flight(tmp_path, me, "run-b") == [InFlight("run-b", "load", 1)]
        notes.leave(a)
        notes.leave(b)
        assert read_in_flight(tmp_path, me, "run-a") == []
        assert notes.enter("r", "k" * 400, 1) is None  # too long to note: not noted
    finally:
        notes.close()
    assert not notes.path.exists()  # a process that ends cleanly leaves nothing behind
    assert read_in_flight(tmp_path, ("elsewhere", 1, "?"), "run-a") == []
