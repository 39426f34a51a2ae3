"""Asset selections on every executor: upstream values by parameter name, skip propagation
with independent branches finishing, ``lg.last_good`` fallbacks, and the durability
contract (an upstream step is committed before its downstream starts)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import legato as lg
from legato.store.sql_store import SqlStore
from legato.values.value_store import ValueStore


def _maybe_fail(ctx: lg.StepContext, name: str) -> None:
    if name in ctx.params.get("fail", ()):
        raise RuntimeError(f"{name} broke")


@lg.asset
def raw(ctx: lg.StepContext) -> list[int]:
    _maybe_fail(ctx, "raw")
    return list(ctx.params.get("rows", [3, 1, 2]))


@lg.asset
def clean(ctx: lg.StepContext, raw: list[int]) -> list[int]:
    _maybe_fail(ctx, "clean")
    return sorted(raw)


@lg.asset
def report(ctx: lg.StepContext, clean: list[int]) -> dict[str, int]:
    _maybe_fail(ctx, "report")
    return {"n": len(clean), "first": clean[0]}


@lg.asset
def summary(report: dict[str, int]) -> list[int]:
    return [report["n"], report["first"]]


@lg.asset
def stats(raw: list[int]) -> dict[str, int]:
    return {"max": max(raw)}


@lg.asset
def side() -> str:
    return "side"


@lg.asset
def side_report(side: str, stats: dict[str, int]) -> str:
    return f"{side}:{stats['max']}"


PIPELINE = [raw, clean, report, summary, stats, side, side_report]


@lg.asset
def zeta() -> str:
    return "z"


@lg.asset
def alpha() -> str:
    return "a"


@lg.asset
def by_name(zeta: str, ctx: lg.StepContext, alpha: str) -> str:
    return f"{zeta}{alpha}:{ctx.step_key}"


@lg.asset(deps=["zeta"])
def ordered_only(alpha: str) -> str:
    return alpha * 2


@lg.asset
async def async_asset(alpha: str) -> str:
    await asyncio.sleep(0.01)
    return alpha.upper()


def test_upstream_values_arrive_by_parameter_name(run_settings: Any, read_store: Any) -> None:
    result = lg.materialize([zeta, alpha, by_name, ordered_only, async_asset],
                            settings=run_settings)
    assert result.status == "succeeded", result.error
    assert result.value("by_name") == "za:by_name"
    assert result.value("ordered_only") == "aa"
    assert result.value("async_asset") == "A"

    store = read_store(run_settings)
    steps = {s.step_key: s for s in store.get_steps(result.run_id)}
    order = [s.step_key for s in sorted(steps.values(), key=lambda s: s.ended_at or 0)]
    assert order.index("zeta") < order.index("ordered_only")  # deps= orders without a value
    materialization = store.latest_materialization("by_name")
    assert materialization is not None and materialization.run_id == result.run_id
    assert materialization.upstream == {"zeta": f"{result.run_id}/zeta",
                                        "alpha": f"{result.run_id}/alpha"}
    assert store.latest_materialization("ordered_only").upstream == {
        "alpha": f"{result.run_id}/alpha", "zeta": f"{result.run_id}/zeta"}


def test_whole_pipeline_succeeds(run_settings: Any) -> None:
    result = lg.materialize(PIPELINE, settings=run_settings)
    assert result.status == "succeeded", result.error
    assert result.value("summary") == [3, 1]
    assert result.value("side_report") == "side:3"
    assert {s.status for s in result.steps.values()} == {"succeeded"}


def test_failure_skips_downstream_and_independent_branches_finish(
    run_settings: Any, read_store: Any
) -> None:
    result = lg.materialize(PIPELINE, settings=run_settings, params={"fail": ["clean"]})
    assert result.status == "failed"
    status = {key: step.status for key, step in result.steps.items()}
    assert status == {"raw": "succeeded", "clean": "failed", "report": "skipped",
                      "summary": "skipped", "stats": "succeeded", "side": "succeeded",
                      "side_report": "succeeded"}
    assert "RuntimeError: clean broke" in (result.steps["clean"].error or "")
    assert result.steps["report"].reason == "upstream 'clean' failed"
    assert result.steps["summary"].reason == "upstream 'report' skipped"
    assert result.value("side_report") == "side:3"
    assert "1 failed (clean)" in (result.error or "")
    assert "2 skipped" in (result.error or "")

    store = read_store(run_settings)
    assert store.get_run(result.run_id).status == "failed"
    steps = {s.step_key: s for s in store.get_steps(result.run_id)}
    assert steps["report"].status == "skipped"
    assert steps["report"].reason == "upstream 'clean' failed"
    assert steps["report"].attempts == 0
    assert steps["clean"].error and "clean broke" in steps["clean"].error
    assert steps["clean"].traceback and "RuntimeError" in steps["clean"].traceback
    # a skipped step never started: no attempt of it is in the event log
    assert not [e for e in store.get_events(result.run_id)
                if e.step_key == "report" and e.kind == "step_started"]
    assert store.latest_materialization("report") is None
    assert store.latest_materialization("side_report") is not None


def test_selection_uses_the_latest_materialization_of_unselected_upstream(
    run_settings: Any,
) -> None:
    first = lg.materialize(PIPELINE, settings=run_settings, params={"rows": [9, 8]})
    assert first.status == "succeeded", first.error
    again = lg.materialize(PIPELINE, ["report"], settings=run_settings)
    assert again.status == "succeeded", again.error
    assert set(again.steps) == {"report"}
    assert again.value("report") == {"n": 2, "first": 8}


def test_unmaterialized_upstream_outside_the_selection_fails_early(run_settings: Any,
                                                                    read_store: Any) -> None:
    with pytest.raises(lg.SelectionError, match="'clean' needs 'raw'") as caught:
        lg.materialize(PIPELINE, ["clean"], settings=run_settings)
    assert caught.value.hint and "*clean" in caught.value.hint
    assert read_store(run_settings).list_runs() == []


# -- fallback=lg.last_good ---------------------------------------------------------------


@lg.asset
def features(ctx: lg.StepContext) -> list[int]:
    _maybe_fail(ctx, "features")
    return list(ctx.params.get("rows", [1, 2]))


@lg.asset(fallback=lg.last_good, retries=1)
def model(ctx: lg.StepContext, features: list[int]) -> dict[str, Any]:
    _maybe_fail(ctx, "model")
    return {"weights": features, "run": ctx.run_id}


@lg.asset
def deploy(ctx: lg.StepContext, model: dict[str, Any]) -> dict[str, Any]:
    return {"served": model["run"], "stale": ctx.is_fallback("model")}


SERVING = [features, model, deploy]


def test_last_good_serves_the_previous_value_when_the_body_fails(run_settings: Any,
                                                                 read_store: Any) -> None:
    good = lg.materialize(SERVING, settings=run_settings)
    assert good.status == "succeeded", good.error
    assert good.value("deploy") == {"served": good.run_id, "stale": False}

    bad = lg.materialize(SERVING, settings=run_settings,
                         params={"fail": ["model"], "rows": [7]})
    model_step = bad.steps["model"]
    assert model_step.status == "fallback"
    assert model_step.attempts == 2  # retries=1: it was tried twice before falling back
    assert "model broke" in (model_step.reason or "")
    assert f"serving the last good value from run {good.run_id}" in (model_step.reason or "")
    assert bad.value("model") == {"weights": [1, 2], "run": good.run_id}
    assert bad.steps["deploy"].status == "succeeded"
    assert bad.value("deploy") == {"served": good.run_id, "stale": True}
    assert bad.status == "failed"  # the run shows that something fell back
    assert "1 fallback (model)" in (bad.error or "")

    store = read_store(run_settings)
    step = next(s for s in store.get_steps(bad.run_id) if s.step_key == "model")
    assert step.status == "fallback"
    assert step.reason == model_step.reason
    attempts = [e.attempt for e in store.get_events(bad.run_id)
                if e.step_key == "model" and e.kind == "step_failed"]
    assert attempts == [1, 2]
    # no new materialization of the model: the last good one is still the newest
    assert store.latest_materialization("model").run_id == good.run_id


def test_last_good_serves_the_previous_value_when_an_upstream_failed(run_settings: Any) -> None:
    good = lg.materialize(SERVING, settings=run_settings)
    assert good.status == "succeeded", good.error
    bad = lg.materialize(SERVING, settings=run_settings, params={"fail": ["features"]})
    assert bad.steps["features"].status == "failed"
    assert bad.steps["model"].status == "fallback"
    assert bad.steps["model"].attempts == 0  # its body never ran
    assert (bad.steps["model"].reason or "").startswith("upstream 'features' failed")
    assert bad.value("deploy") == {"served": good.run_id, "stale": True}


def test_last_good_without_a_previous_value(run_settings: Any, read_store: Any) -> None:
    failed = lg.materialize(SERVING, settings=run_settings, params={"fail": ["model"]})
    assert failed.status == "failed"
    assert failed.steps["model"].status == "failed"
    assert "no earlier good value" in (failed.steps["model"].reason or "")
    assert "model broke" in (failed.steps["model"].error or "")
    assert failed.steps["deploy"].status == "skipped"
    assert failed.steps["deploy"].reason == "upstream 'model' failed"

    skipped = lg.materialize(SERVING, settings=run_settings, params={"fail": ["features"]})
    assert skipped.steps["model"].status == "skipped"
    assert "no earlier good value" in (skipped.steps["model"].reason or "")
    assert skipped.steps["deploy"].status == "skipped"
    store = read_store(run_settings)
    assert {s.step_key: s.status for s in store.get_steps(skipped.run_id)} == {
        "features": "failed", "model": "skipped", "deploy": "skipped"}


# -- the durability contract -----------------------------------------------------------


@lg.asset
def upstream_value() -> dict[str, int]:
    return {"rows": 3}


@lg.asset
def sees_committed_upstream(ctx: lg.StepContext, upstream_value: dict[str, int]
                            ) -> dict[str, Any]:
    """Look at the store from another connection while this step runs."""
    with SqlStore(ctx.params["store_url"]) as store:
        steps = {s.step_key: s for s in store.get_steps(ctx.run_id)}
        up = steps.get("upstream_value")
        materialization = store.latest_materialization("upstream_value")
        stored = store.get_value(up.value_id) if up and up.value_id else None
        return {
            "status": up.status if up else None,
            "materialized_in": materialization.run_id if materialization else None,
            "value_inline": stored.inline if stored else None,
        }


def test_upstream_is_committed_before_downstream_starts(run_settings: Any) -> None:
    result = lg.materialize([upstream_value, sees_committed_upstream], settings=run_settings,
                            params={"store_url": run_settings.store_url})
    assert result.status == "succeeded", result.error
    seen = result.value("sees_committed_upstream")
    assert seen["status"] == "succeeded"
    assert seen["materialized_in"] == result.run_id
    assert seen["value_inline"] == '{"rows":3}'


def test_unselected_upstream_values_are_loaded_once_and_only_when_taken(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(executor="threads")
    first = lg.materialize([zeta, alpha, ordered_only], settings=settings)
    assert first.status == "succeeded", first.error
    loaded: list[str] = []
    original = ValueStore.get

    def spy(self: ValueStore, stored: Any) -> Any:
        loaded.append(stored.value_id)
        return original(self, stored)

    monkeypatch.setattr(ValueStore, "get", spy)
    again = lg.materialize([zeta, alpha, ordered_only], ["ordered_only"], settings=settings)
    assert again.status == "succeeded", again.error
    assert again.value("ordered_only") == "aa"
    assert loaded == [f"{first.run_id}/alpha"]  # zeta only orders: its value is not needed
