"""Step values on every executor: JSON in the store row, large values and frames in files,
other objects pickled; a value that cannot be kept fails the step at once, with a message
that says why."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import legato as lg
from legato.engine.stored import load_step_value
from legato.values.value_store import INLINE_LIMIT


@dataclass(frozen=True)
class Point:
    x: int
    y: int


@lg.task(retries=3)
def generator(n: int) -> Any:
    return (i for i in range(n))


@lg.task
def large(n: int) -> list[str]:
    return ["x" * 1000] * n


@lg.task
def point() -> Point:
    return Point(1, 2)


@lg.flow
def returns_generator() -> str:
    try:
        generator(3)
    except lg.StepFailed as failed:
        return failed.error
    return "stored"


@lg.flow
def returns_large(n: int) -> int:
    return len(large(n))


@lg.flow
def returns_point() -> Point:
    return point()


@lg.asset
def events_polars() -> pl.DataFrame:
    return pl.DataFrame({"user_id": [1, 2, 3], "item": ["a", "b", "c"],
                         "score": [0.5, 1.5, None]})


@lg.asset
def events_pandas(events_polars: pl.DataFrame) -> pd.DataFrame:
    frame = events_polars.to_pandas()
    frame["double"] = frame["score"] * 2
    return frame


@lg.asset
def counts(events_pandas: pd.DataFrame) -> dict[str, int]:
    return {"rows": len(events_pandas), "columns": len(events_pandas.columns)}


def test_an_unstorable_value_fails_at_once(run_settings: Any, executor: str,
                                           read_store: Any) -> None:
    result = lg.run(returns_generator, settings=run_settings)
    assert result.status == "succeeded", result.error
    message = result.output
    assert "generator" in message
    if executor == "processes":
        assert "cannot be sent back from the worker process" in message
    else:
        assert "cannot store" in message
    step = result.steps["generator"]
    assert (step.status, step.attempts) == ("failed", 1)  # retrying would not help
    failed = [e for e in read_store(run_settings).get_events(result.run_id)
              if e.kind == "step_failed"]
    assert len(failed) == 1 and failed[0].data["next"] == "fail"


def test_a_large_value_goes_to_a_file(run_settings: Any, read_store: Any) -> None:
    n = INLINE_LIMIT // 1000 + 10
    result = lg.run(returns_large, settings=run_settings, n=n)
    assert result.status == "succeeded", result.error
    assert result.output == n
    store = read_store(run_settings)
    step = next(s for s in store.get_steps(result.run_id) if s.step_key == "large")
    stored = store.get_value(step.value_id)
    assert stored is not None
    assert (stored.format, stored.inline) == ("json", None)
    assert stored.size > INLINE_LIMIT
    assert stored.uri is not None and Path(stored.uri).is_file()
    loaded = load_step_value(run_settings, result.run_id, "large")  # read back from disk
    assert loaded == ["x" * 1000] * n
    assert result.value("large") == loaded


def test_a_small_value_stays_in_the_row(make_settings: Any, read_store: Any) -> None:
    settings = make_settings(executor="threads")
    result = lg.run(returns_large, settings=settings, n=2)
    store = read_store(settings)
    step = next(s for s in store.get_steps(result.run_id) if s.step_key == "large")
    stored = store.get_value(step.value_id)
    assert stored is not None and stored.uri is None
    assert stored.inline is not None and len(stored.inline) < INLINE_LIMIT


def test_other_objects_are_pickled(run_settings: Any, read_store: Any) -> None:
    result = lg.run(returns_point, settings=run_settings)
    assert result.status == "succeeded", result.error
    assert result.output == Point(1, 2)
    store = read_store(run_settings)
    step = next(s for s in store.get_steps(result.run_id) if s.step_key == "point")
    stored = store.get_value(step.value_id)
    assert stored is not None and stored.format == "pickle"
    assert stored.type.endswith("Point")
    assert load_step_value(run_settings, result.run_id, "point") == Point(1, 2)


def test_pickling_can_be_refused(make_settings: Any) -> None:
    settings = make_settings(executor="threads", allow_pickle=False)
    result = lg.run(returns_point, settings=settings)
    assert result.status == "failed"
    error = result.steps["point"].error or ""
    assert "pickling is disabled" in error
    assert "LEGATO_ALLOW_PICKLE" in error  # the hint comes with the message


def test_dataframes_round_trip(run_settings: Any, read_store: Any) -> None:
    result = lg.materialize([events_polars, events_pandas, counts], settings=run_settings)
    assert result.status == "succeeded", result.error
    assert result.value("counts") == {"rows": 3, "columns": 4}

    store = read_store(run_settings)
    step = next(s for s in store.get_steps(result.run_id) if s.step_key == "events_polars")
    stored = store.get_value(step.value_id)
    assert stored is not None and stored.format == "parquet"
    polars_back = load_step_value(run_settings, result.run_id, "events_polars")
    assert isinstance(polars_back, pl.DataFrame)
    assert polars_back.equals(events_polars.fn())
    pandas_back = load_step_value(run_settings, result.run_id, "events_pandas")
    assert isinstance(pandas_back, pd.DataFrame)
    pd.testing.assert_frame_equal(pandas_back, events_pandas.fn(events_polars.fn()))

    materialization = store.latest_materialization("events_polars")
    assert materialization is not None
    assert materialization.row_count == 3
    assert materialization.columns is not None
    assert set(materialization.columns) == {"user_id", "item", "score"}


def test_pandas_frames_are_stored_as_parquet(make_settings: Any, read_store: Any) -> None:
    settings = make_settings(executor="threads")
    result = lg.materialize([events_polars, events_pandas], settings=settings)
    store = read_store(settings)
    step = next(s for s in store.get_steps(result.run_id) if s.step_key == "events_pandas")
    stored = store.get_value(step.value_id)
    assert stored is not None and stored.format == "parquet"
    materialization = store.latest_materialization("events_pandas")
    assert materialization is not None and materialization.row_count == 3


@pytest.mark.parametrize("io", ["json", "parquet"])
def test_a_value_that_does_not_fit_its_io_fails_with_a_hint(io: str,
                                                            make_settings: Any) -> None:
    settings = make_settings(executor="threads")
    strict = lg.task(name="strict", io=io)(lambda: {1, 2})

    @lg.flow(name="strict_flow")
    def flow() -> Any:
        return strict()

    result = lg.run(flow, settings=settings)
    assert result.status == "failed"
    assert f"io='{io}'" in (result.steps["strict"].error or "")
