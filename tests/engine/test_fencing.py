"""Fencing: a run's process is frozen (SIGSTOP) past its lease, another process takes the run
over and finishes it, then the first one wakes up (SIGCONT) in the middle of a step. Its late
writes are rejected (``LeaseLost``, logged), so every step still has exactly one success."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from durable_kit import Place, check_invariants, finish, ledger_lines, resume, run_ids, start

TTL = "1.0"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    url = None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    return Place(tmp_path, url)


@pytest.mark.slow
def test_a_process_frozen_past_its_lease_cannot_record_after_the_takeover(place: Place
                                                                          ) -> None:
    first = start(place, "flow", "--ttl", TTL, "--pause", "0.2")
    try:
        while ledger_lines(place) < 4:  # in the chain: one step at a time
            assert first.poll() is None, finish(first)
            time.sleep(0.001)
        first.send_signal(signal.SIGSTOP)  # inside a step's body (it sleeps 0.1-0.2 s)
        frozen_at = ledger_lines(place)
        time.sleep(float(TTL) + 0.5)
        (run_id,) = run_ids(place)
        code, out, err = finish(resume(place, run_id, "--wait", "--ttl", TTL,
                                       "--pause", "0"))
        assert (code, out.get("status")) == (0, "succeeded"), (out, err)
    finally:
        first.send_signal(signal.SIGCONT)
    code, out, err = finish(first)
    assert code == 3, (out, err)
    assert out["error"] == "LeaseLost", out
    assert "taken over by another process" in out["message"]
    assert "taken over by another process" in err  # logged when the write was rejected
    events = check_invariants(place, run_id, "flow")
    resumed = [e for e in events if e.kind == "run_resumed"]
    assert len(resumed) == 1
    assert resumed[0].data["token"] == 2 and resumed[0].data["previous_token"] == 1
    assert "lease expired" in resumed[0].data["reason"]
    assert frozen_at >= 4
