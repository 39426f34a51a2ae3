"""The views are the public data contract: frozen, free of storage internals, JSON-able by
one function, and documented in docs/reference/views.md (generated, checked here)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import json

import pytest

from legato.services import reference
from legato.services.views import assets, backfills, runs, steps, triggers
from legato.services.views.assets import AssetView, MaterializationView
from legato.services.views.runs import RunView
from legato.services.views.serialize import to_json
from legato.services.views.steps import RunDetailView, StepView

INTERNALS = {"lease_token", "lease_owner", "lease_expires_at", "value_id", "output_value_id",
             "cache_key", "seq", "source", "spec", "version", "tick_id"}


def all_views() -> list[type]:
    return [cls for module in (runs, steps, assets, triggers, backfills)
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__]


def test_every_view_is_frozen_documented_and_free_of_storage_internals() -> None:
    assert set(all_views()) == set(reference.VIEWS) | {runs.RunOutcome}
    for cls in reference.VIEWS:
        names = {f.name for f in dataclasses.fields(cls)}
        assert not names & INTERNALS, f"{cls.__name__} exposes {names & INTERNALS}"
        assert cls.__dataclass_params__.frozen, cls.__name__  # type: ignore[attr-defined]
        assert cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("), cls.__name__


def test_to_json_is_strict_json_of_the_fields() -> None:
    run = RunView(run_id="r1", kind="flow", target="f", status="succeeded",
                  params={"x": float("nan")}, tags=("a",), priority=0, partition_key=None,
                  backfill_id=None, trigger_key=None, idempotency_key=None, definitions=None,
                  created_at=1.0, started_at=None, ended_at=2.0, duration_s=1.0, error=None)
    step = StepView(step_key="s", name="s", kind="task", status="succeeded", attempts=1,
                    started_at=1.0, ended_at=float("inf"), duration_s=None, error=None,
                    traceback=None, reason=None, upstream=(), tags=())
    data = to_json(RunDetailView(run=run, steps=(step,)))
    assert data["run"]["params"] == {"x": None} and data["run"]["tags"] == ["a"]
    assert data["run"]["lease"] is None and data["steps"][0]["ended_at"] is None
    json.dumps(data, allow_nan=False)  # strict: no NaN, no Infinity
    asset = AssetView(asset_key="a", partitions=None, latest_outcome=None,
                      latest_materialization=MaterializationView(
        materialization_id="m", asset_key="a", run_id="r1", step_key="a", partition_key=None,
        created_at=1.0, code_version="1", data_version="d", upstream={}, row_count=None,
        columns=None))
    assert to_json([asset])[0]["latest_materialization"]["materialization_id"] == "m"


def test_times_are_iso_8601_in_utc_in_json() -> None:
    """Every ``at`` and ``*_at`` field (Unix seconds in Python) is ISO 8601 with its zone
    in JSON; durations stay seconds, and other numbers are left alone."""
    run = RunView(run_id="r1", kind="flow", target="f", status="succeeded",
                  params={"created_at": 5.0}, tags=(), priority=0, partition_key=None,
                  backfill_id=None, trigger_key=None, idempotency_key=None, definitions=None,
                  created_at=1_796_324_074.123, started_at=None, ended_at=float("nan"),
                  duration_s=1.5, error=None)
    data = to_json(run)
    assert data["created_at"] == "2026-12-03T18:54:34.123000+00:00"
    assert dt.datetime.fromisoformat(data["created_at"]).timestamp() == 1_796_324_074.123
    assert data["started_at"] is None and data["ended_at"] is None
    assert data["duration_s"] == 1.5 and data["params"] == {"created_at": 5.0}
    tick = triggers.TickView(tick_key="k", at=0.0, status="requested", run_id=None,
                             detail=None)
    assert to_json(tick)["at"] == "1970-01-01T00:00:00.000000+00:00"


def test_every_time_of_the_views_is_named_as_one() -> None:
    """``to_json`` finds times by name (``at``, ``*_at``): a number field of another name
    is a duration (``*_s``) or a count, never a time."""
    durations = {"interval_seconds", "timeout"}
    for cls in reference.VIEWS:
        for f in dataclasses.fields(cls):
            if "float" in str(f.type) and not f.name.endswith("_s"):
                assert f.name == "at" or f.name.endswith("_at") or f.name in durations, (
                    f"{cls.__name__}.{f.name}")


def test_views_cannot_be_changed() -> None:
    view = triggers.TriggerStateView(trigger_key="schedule:x", paused=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.paused = False  # type: ignore[misc]


def test_the_views_reference_is_up_to_date() -> None:
    assert reference.DOCS_PATH.is_file(), (
        f"{reference.DOCS_PATH} is missing; generate it with: {reference.REGENERATE}")
    assert reference.DOCS_PATH.read_text() == reference.render(), (
        f"{reference.DOCS_PATH} is out of date; regenerate it with: {reference.REGENERATE}")
    assert reference.main(["--check"]) == 0
    text = reference.render()
    for cls in reference.VIEWS:
        assert f"\n## {cls.__name__}\n" in text
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` |" in text


def test_field_docs_are_the_strings_under_the_fields() -> None:
    docs = reference.field_docs(RunView)
    assert docs["definitions"].startswith("Where the run's definitions were loaded from")
    assert "run_id" in docs and "kind" in docs
