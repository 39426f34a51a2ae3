"""Random kill -9: a 50-step run (a chain, a retrying step, a ``.map`` fan-out) in a child
process is SIGKILLed at a random instant, then resumed (sometimes killed again while it
resumes), on SQLite and on PostgreSQL. After each iteration the durability contract holds
(``durable_kit.check_invariants``): the run ended; one successful attempt per step, its value
readable; no step started before its upstream's success was committed; no committed step
ran again; the side-effect ledger holds at least one body per committed success; SQLite
passes ``PRAGMA integrity_check``.

30 iterations per backend by default; ``pytest --iterations 200`` (or
``LEGATO_KILL_ITERATIONS``) for more. Each iteration is its own test, so ``-n`` spreads them.
The seed of an iteration is its number: a failure names it and can be replayed alone.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import durable_child
import pytest
from durable_kit import (
    Place,
    check_invariants,
    finish,
    kill_when,
    resume,
    run_ids,
    start,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "iteration" in metafunc.fixturenames:
        given = metafunc.config.getoption("iterations")
        count = int(given if given is not None
                    else os.environ.get("LEGATO_KILL_ITERATIONS", "30"))
        metafunc.parametrize("iteration", range(count))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    url = None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    return Place(tmp_path, url)


def kill_and_resume(place: Place, rng: random.Random, kind: str) -> str:
    """Start the run, kill it at a random point of its progress (or of its start-up), resume
    it, perhaps kill that too, until it has ended; its run id."""
    key = f"kill-test-{rng.getrandbits(32):08x}"
    extra = ["--key", key] if kind == "flow" else []
    total = durable_child.STEPS + durable_child.FLAKY_FAILURES
    child = start(place, kind, *extra)
    kills_left = 0 if rng.random() < 0.7 else 1  # sometimes the resuming process dies too
    while kill_when(child, place, rng.randrange(0, total + 1), rng.uniform(0, 0.006)):
        ids = run_ids(place)
        # killed before the run was recorded: submit it again; a flow is sometimes
        # submitted again with the same key, which resumes the run
        if not ids or (kind == "flow" and rng.random() < 0.3):
            child = start(place, kind, *extra)
        else:
            child = resume(place, ids[0])
        if not kills_left:
            break
        kills_left -= 1
    code, out, err = finish(child)
    assert code == 0, (out, err)
    assert out["status"] == "succeeded", out
    ids = run_ids(place)
    assert len(ids) == 1, ids  # never a second run: resumed, or found by its key
    return ids[0]


@pytest.mark.slow
def test_random_kill_then_resume(place: Place, iteration: int) -> None:
    rng = random.Random(iteration)
    run_id = kill_and_resume(place, rng, "flow")
    check_invariants(place, run_id, "flow")


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(8))
def test_random_kill_of_an_asset_run_then_resume(place: Place, round_: int) -> None:
    rng = random.Random(10_000 + round_)
    run_id = kill_and_resume(place, rng, "assets")
    check_invariants(place, run_id, "assets")
