"""Idempotent submissions: ``lg.run(..., idempotency_key=...)`` starts at most one run per
key. A second submission gets the first run (with its output, without running anything),
even when both are made at the same instant; reusing a key for something else is an
error."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import legato as lg
from legato.store.sql_store import SqlStore

BODIES: list[str] = []
GATE = threading.Event()


@lg.task
def work(x: int) -> int:
    BODIES.append(f"work {x}")
    GATE.wait(5)
    return x * 2


@lg.flow
def submitted(x: int) -> dict[str, int]:
    return {"doubled": work(x)}


@pytest.fixture(autouse=True)
def _fresh() -> None:
    BODIES.clear()
    GATE.set()


def test_a_second_submission_gets_the_first_run(settings: lg.Settings) -> None:
    first = lg.run(submitted, x=4, idempotency_key="order-17", settings=settings)
    again = lg.run(submitted, x=4, idempotency_key="order-17", settings=settings)
    assert first.ok and again.ok
    assert again.run_id == first.run_id
    assert again.output == first.output == {"doubled": 8}
    assert again.steps["work"].status == "succeeded"
    assert BODIES == ["work 4"]  # ran once
    other = lg.run(submitted, x=4, idempotency_key="order-18", settings=settings)
    assert other.run_id != first.run_id and BODIES == ["work 4", "work 4"]


def test_a_key_reused_for_something_else_is_refused(settings: lg.Settings) -> None:
    lg.run(submitted, x=4, idempotency_key="order-17", settings=settings)
    with pytest.raises(lg.ParamsError, match=r"idempotency key 'order-17' was already used "
                       r"by run .*, with other parameters") as error:
        lg.run(submitted, x=5, idempotency_key="order-17", settings=settings)
    assert "use a new key" in (error.value.hint or "")


def test_two_submissions_at_the_same_instant_make_one_run(settings: lg.Settings,
                                                          project: Path) -> None:
    GATE.clear()  # the first run's step waits, so the second comes while it runs
    results: list[Any] = []
    go = threading.Barrier(2)

    def submit() -> None:
        go.wait()
        results.append(lg.run(submitted, x=3, idempotency_key="k", settings=settings))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = threading.Event()
    while len(results) < 1 and not deadline.wait(0.01):
        pass
    GATE.set()
    for thread in threads:
        thread.join()
    assert len({r.run_id for r in results}) == 1
    assert sorted(str(r.status) for r in results) in (["running", "succeeded"],
                                                       ["succeeded", "succeeded"])
    assert BODIES == ["work 3"]
    with SqlStore(settings.store_url) as store:
        assert len(store.list_runs()) == 1
