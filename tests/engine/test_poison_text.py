"""Steps whose output or errors cannot be stored as given (a non-UTF-8 file name as
``os.listdir`` returns it, a NUL byte, a name too long for its column) cost no other step:
their text is escaped at the store's boundary, and what still cannot be stored fails the
step that produced it, once, with a message naming the step and the field. On SQLite and
PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import cloudpickle
import pytest

import legato as lg
from legato.store.records import RunStatus, StepStatus

cloudpickle.register_pickle_by_value(sys.modules[__name__])

NAME = b"report-\xff.csv".decode("utf-8", "surrogateescape")  # what os.listdir returns
ESCAPED = "report-\\xff.csv"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, make_settings: Callable[..., Any]) -> Any:
    url = None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    return make_settings(executor="threads", max_parallel=4, database_url=url)


@lg.task
def listing(i: int) -> int:
    print(f"found {NAME}" if i == 3 else f"found file-{i}.csv")
    return i


@lg.flow
def eight() -> list[int]:
    return [future.result() for future in listing.map(range(8))]


def test_a_step_printing_a_surrogate_costs_no_other_step(settings: Any, read_store: Any
                                                         ) -> None:
    result = lg.run(eight, settings=settings)
    assert result.status == RunStatus.SUCCEEDED, result.error
    store = read_store(settings)
    steps = store.get_steps(result.run_id)
    assert len(steps) == 8
    assert {s.status for s in steps} == {StepStatus.SUCCEEDED}
    messages = [line.message for line in store.get_logs(result.run_id)]
    assert f"found {ESCAPED}" in messages and len(messages) == 8
    assert result.output == list(range(8))


@lg.asset
def inventory() -> list[str]:
    raise ValueError("bad file " + NAME)


@lg.asset
def report(inventory: list[str]) -> int:
    return len(inventory)


def test_an_asset_raising_with_a_surrogate_fails_visibly_and_skips_downstream(
        settings: Any, read_store: Any) -> None:
    result = lg.materialize([inventory, report], settings=settings)
    assert result.status == RunStatus.FAILED
    steps = {s.step_key: s for s in read_store(settings).get_steps(result.run_id)}
    assert steps["inventory"].status == StepStatus.FAILED
    assert steps["inventory"].error == f"ValueError: bad file {ESCAPED}"
    assert ESCAPED in (steps["inventory"].traceback or "")
    assert steps["report"].status == StepStatus.SKIPPED


@lg.task
def nul() -> None:
    raise ValueError("bad\x00value")


def test_a_nul_in_an_error_fails_the_step_once_with_a_readable_error(
        settings: Any, read_store: Any) -> None:
    result = lg.run(nul, settings=settings)
    assert result.status == RunStatus.FAILED
    (step,) = read_store(settings).get_steps(result.run_id)
    assert (step.status, step.attempts) == (StepStatus.FAILED, 1)
    assert step.error == "ValueError: bad\\x00value"


LONG = "Payload" + "x" * 300  # a type name longer than the 255 characters the store keeps
Long = type(LONG, (), {"__module__": __name__})
globals()[LONG] = Long


@lg.task(retries=3)
def long_typed() -> Any:
    return Long()


@pytest.mark.postgres
def test_a_value_that_cannot_be_stored_fails_its_step_once_naming_the_field(
        make_settings: Callable[..., Any], postgres_url: str, read_store: Any) -> None:
    settings = make_settings(executor="threads", database_url=postgres_url)
    result = lg.run(long_typed, settings=settings)
    assert result.status == RunStatus.FAILED
    (step,) = read_store(settings).get_steps(result.run_id)
    assert (step.status, step.attempts) == (StepStatus.FAILED, 1)  # not retried
    assert "value " in (step.error or "") and "field 'type'" in (step.error or "")
    assert "long_typed" in (step.error or "")
