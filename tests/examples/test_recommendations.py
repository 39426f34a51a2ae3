"""The main job, end to end on the embedded SQLite store: a clean day deploys a fresh
model; a day with a corrupt upload fails features after its retries and deploys the
standby (last good) model instead; with no earlier good model nothing is deployed."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import legato as lg
from legato.store.sql_store import SqlStore

PIPELINE = Path(__file__).resolve().parents[2] / "examples" / "recommendations" / "pipeline.py"
CLEAN_DAY, BAD_DAY = "2026-11-19", "2026-11-20"

pytest.importorskip("implicit", reason="the example needs its extras: pip install .[example]")
pytest.importorskip("polars", reason="the example needs its extras: pip install .[example]")


@pytest.fixture
def defs() -> lg.Definitions:
    return lg.load(str(PIPELINE))


def _run(defs: lg.Definitions, settings: Any, data_dir: Path, day: str,
         bad_upload: bool = False) -> lg.RunResult:
    return lg.materialize(
        defs, params={"day": day, "bad_upload": bad_upload, "data_dir": str(data_dir)},
        settings=settings)


def _statuses(result: lg.RunResult) -> dict[str, str]:
    return {key: str(step.status) for key, step in result.steps.items()}


def _metadata(data_dir: Path) -> dict[str, Any]:
    return json.loads((data_dir / "serving" / "metadata.json").read_text())


def _served_model(data_dir: Path) -> dict[str, Any]:
    with open(data_dir / "serving" / "model.pkl", "rb") as handle:
        return pickle.load(handle)  # type: ignore[no-any-return]


def test_a_bad_upload_keeps_serving_the_last_good_model(
        defs: lg.Definitions, settings: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    # Day 1: a clean upload. Every step succeeds and a fresh model is served.
    first = _run(defs, settings, data_dir, CLEAN_DAY)
    assert first.status == "succeeded", first.error
    assert set(_statuses(first).values()) == {"succeeded"}
    landed = sorted(p.name for p in (data_dir / "landing" / f"day={CLEAN_DAY}").iterdir())
    assert landed == ["_manifest.json", *(f"part-{n:04d}.jsonl" for n in range(6))]
    manifest = first.value("raw_events")
    assert 20_000 < manifest["events"] < 60_000
    frame = first.value("features")
    assert set(frame["split"].unique().to_list()) == {"train", "holdout"}
    assert frame["weight"].min() >= 1

    served = _metadata(data_dir)
    assert served["standby"] is False
    assert served["run_id"] == first.run_id and served["day"] == CLEAN_DAY
    assert served["model_version"].startswith(f"als-{CLEAN_DAY}-")
    metrics = served["metrics"]
    assert metrics["users_evaluated"] > 100
    model_p, model_r = metrics["model"]["precision_at_10"], metrics["model"]["recall_at_10"]
    pop_p, pop_r = (metrics["popularity"]["precision_at_10"],
                    metrics["popularity"]["recall_at_10"])
    assert 0 < pop_r <= 1 and 0 < model_r <= 1
    # Collaborative filtering must clearly beat "recommend what is popular".
    assert model_p > 1.5 * pop_p and model_r > 1.5 * pop_r, metrics
    day1_model = _served_model(data_dir)
    assert day1_model["version"] == served["model_version"]

    # Day 2: one part file lands corrupt. features fails for good after three attempts;
    # model and evaluation fall back to day 1; deployment serves the standby model.
    second = _run(defs, settings, data_dir, BAD_DAY, bad_upload=True)
    assert second.status == "failed"
    assert _statuses(second) == {"raw_events": "succeeded", "features": "failed",
                                 "model": "fallback", "evaluation": "fallback",
                                 "deployment": "succeeded"}
    failed = second.steps["features"]
    assert failed.attempts == 3
    assert failed.error is not None
    assert f"day={BAD_DAY}/part-0003.jsonl" in failed.error and "corrupt" in failed.error
    assert first.run_id in (second.steps["model"].reason or "")

    standby = _metadata(data_dir)
    assert standby["standby"] is True
    assert standby["run_id"] == second.run_id and standby["day"] == BAD_DAY
    assert standby["model_version"] == served["model_version"]
    assert standby["trained_in_run"] == first.run_id
    assert standby["metrics"] == served["metrics"] and standby["metrics_are_standby"] is True
    assert "standby" in standby["reason"] and CLEAN_DAY in standby["reason"]
    day2_model = _served_model(data_dir)
    assert day2_model["version"] == day1_model["version"]
    assert (day2_model["als"].item_factors == day1_model["als"].item_factors).all()

    with SqlStore(settings.store_url) as store:
        logs = [line.message for line in store.get_logs(second.run_id, "deployment")]
        events = store.get_events(second.run_id)
    assert any("STANDBY" in message for message in logs), logs
    tries = [e for e in events if e.step_key == "features" and e.kind == "step_failed"]
    assert [e.attempt for e in tries] == [1, 2, 3]
    assert [e.data["next"] for e in tries] == ["retry", "retry", "fail"]


def test_a_bad_upload_with_no_earlier_good_model_deploys_nothing(
        defs: lg.Definitions, settings: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = _run(defs, settings, data_dir, BAD_DAY, bad_upload=True)
    assert result.status == "failed"
    assert _statuses(result) == {"raw_events": "succeeded", "features": "failed",
                                 "model": "skipped", "evaluation": "skipped",
                                 "deployment": "skipped"}
    assert "no earlier good value" in (result.steps["model"].reason or "")
    assert not (data_dir / "serving").exists()


def test_each_day_lands_the_same_events_every_time(tmp_path: Path) -> None:
    defs = lg.load(str(PIPELINE))
    raw_events = defs.assets["raw_events"]

    def land(day: str, folder: str) -> dict[str, Any]:
        ctx = lg.StepContext(run_id="test", step_key="raw_events", attempt=1,
                             params={"day": day, "data_dir": str(tmp_path / folder)})
        return raw_events(ctx)  # type: ignore[no-any-return]

    first, again, other = land(CLEAN_DAY, "a"), land(CLEAN_DAY, "b"), land(BAD_DAY, "c")
    assert [f["sha256"] for f in first["files"]] == [f["sha256"] for f in again["files"]]
    assert [f["sha256"] for f in first["files"]] != [f["sha256"] for f in other["files"]]
    events = [json.loads(line) for line in
              (tmp_path / "a" / "landing" / f"day={CLEAN_DAY}" / "part-0000.jsonl")
              .read_text().splitlines()]
    assert all(e["event_time"].startswith(CLEAN_DAY) for e in events)
    kinds = {e["event_type"] for e in events}
    assert kinds == {"view", "click", "add_to_cart", "purchase"}


@pytest.mark.slow
def test_the_demo_tells_the_story_through_the_cli(tmp_path: Path) -> None:
    """What `make run` does: demo.sh drives the CLI through both nights."""
    demo = PIPELINE.parent / "demo.sh"
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["RECOMMENDATIONS_DATA_DIR"] = str(data_dir)
    done = subprocess.run(["bash", str(demo)], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exit code 1, as expected" in done.stdout
    assert "part-0003.jsonl" in done.stdout
    served = _metadata(data_dir)
    assert served["standby"] is True and served["trained_on"] == CLEAN_DAY
    assert (data_dir / ".legato" / "legato.db").exists()
