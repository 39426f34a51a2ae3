"""Partitions in the engine: the run's partition reaches the step and its materialization,
upstream assets are read at the mapped partitions, and bad partitions fail before a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import legato as lg
from legato.engine.resume import execute_claimed
from legato.engine.runner import Runner
from legato.engine.session import new_run_id
from legato.store import queue
from legato.store.sql_store import SqlStore

DAILY = lg.DailyPartitions(start="2026-01-01", end="2026-02-01")
HOURLY = lg.HourlyPartitions(start="2026-01-01", end="2026-01-03")


@pytest.fixture
def settings(project: Path) -> lg.Settings:
    return lg.Settings(home=project / ".legato", executor="threads")


@lg.asset(partitions=DAILY)
def events(ctx: Any) -> dict[str, Any]:
    window = ctx.partition_window
    return {"day": ctx.partition_key, "start": window.start.isoformat(),
            "hours": window.duration.total_seconds() / 3600}


@lg.asset(partitions=DAILY)
def daily_count(ctx: Any, events: dict[str, Any]) -> str:
    return f"{ctx.partition_key}:{events['day']}"


@lg.asset(partitions=lg.StaticPartitions(["eu", "us"]), deps=["events"],
          partition_mappings={"events": lg.AllPartitionsMapping()})
def per_region(ctx: Any) -> str:
    return str(ctx.partition_key)


@lg.asset
def summary(events: dict[str, Any]) -> list[str]:
    return list(events)


@lg.asset(partitions=HOURLY)
def clicks(ctx: Any) -> int:
    return int(ctx.partition_key[11:13])


@lg.asset(partitions=lg.DailyPartitions(start="2026-01-01", end="2026-01-03"))
def daily_clicks(clicks: dict[str, int]) -> int:
    assert isinstance(clicks, dict)
    return sum(clicks.values()) + len(clicks) * 1000


@lg.asset(partitions=lg.StaticPartitions(["eu", "us"]),
          partition_mappings={"events": lg.AllPartitionsMapping()})
def model(ctx: Any, events: dict[str, Any]) -> list[str]:
    return sorted(events)


@lg.asset
def rates() -> float:
    return 1.5


@lg.asset(partitions=DAILY)
def priced(ctx: Any, rates: float) -> str:
    return f"{ctx.partition_key}@{rates}"


def test_the_partition_reaches_the_step_the_run_and_the_materialization(
        settings: lg.Settings) -> None:
    result = lg.materialize([events], partition="2026-01-05", settings=settings)
    assert result.ok, result.error
    assert result.value("events") == {"day": "2026-01-05",
                                      "start": "2026-01-05T00:00:00+00:00", "hours": 24.0}
    with SqlStore(settings.store_url) as store:
        run = store.get_run(result.run_id)
        record = store.latest_materialization("events", "2026-01-05")
        assert store.latest_materialization("events", "2026-01-06") is None
    assert run.partition_key == "2026-01-05"
    assert record is not None and record.partition_key == "2026-01-05"


def test_a_downstream_partition_reads_its_own_partition_of_the_upstream(
        settings: lg.Settings) -> None:
    defs = lg.Definitions(assets=[events, daily_count])
    for day in ("2026-01-05", "2026-01-06", "2026-01-07"):
        assert lg.materialize(defs, ["events"], partition=day, settings=settings).ok
    result = lg.materialize(defs, ["daily_count"], partition="2026-01-06", settings=settings)
    assert result.value("daily_count") == "2026-01-06:2026-01-06"
    with SqlStore(settings.store_url) as store:
        record = store.latest_materialization("daily_count", "2026-01-06")
        upstream = store.latest_materialization("events", "2026-01-06")
    assert record is not None and upstream is not None
    assert record.upstream == {"events": upstream.materialization_id}
    both = lg.materialize(defs, ["events", "daily_count"], partition="2026-01-20",
                          settings=settings)
    assert both.value("daily_count") == "2026-01-20:2026-01-20"  # within the run


def test_a_missing_upstream_partition_fails_before_the_run_starts(
        settings: lg.Settings) -> None:
    defs = lg.Definitions(assets=[events, daily_count])
    assert lg.materialize(defs, ["events"], partition="2026-01-05", settings=settings).ok
    with pytest.raises(lg.SelectionError) as caught:
        lg.materialize(defs, ["daily_count"], partition="2026-01-06", settings=settings)
    message = str(caught.value)
    assert "partition '2026-01-06' of asset 'daily_count'" in message
    assert "2026-01-06 of 'events'" in message and "never been materialized" in message
    assert "legato backfill events" in (caught.value.hint or "")
    with SqlStore(settings.store_url) as store:
        assert len(store.list_runs()) == 1  # no run was started


def test_all_partitions_mapping_gives_a_dict_in_key_order(settings: lg.Settings) -> None:
    defs = lg.Definitions(assets=[events, model, summary])
    for day in ("2026-01-03", "2026-01-01", "2026-01-02"):
        assert lg.materialize(defs, ["events"], partition=day, settings=settings).ok
    full = lg.DailyPartitions(start="2026-01-01", end="2026-01-04")

    @lg.asset(partitions=full, key="events")
    def short_events(ctx: Any) -> int:
        return 0

    @lg.asset(partitions=lg.StaticPartitions(["eu"]),
              partition_mappings={"events": lg.AllPartitionsMapping()})
    def short_model(events: dict[str, Any]) -> list[str]:
        return list(events)

    @lg.asset
    def short_summary(events: dict[str, Any]) -> list[str]:
        return list(events)

    three = lg.Definitions(assets=[short_events, short_model, short_summary])
    result = lg.materialize(three, ["short_model"], partition="eu", settings=settings)
    assert result.value("short_model") == ["2026-01-01", "2026-01-02", "2026-01-03"]
    whole = lg.materialize(three, ["short_summary"], settings=settings)  # unpartitioned
    assert whole.value("short_summary") == ["2026-01-01", "2026-01-02", "2026-01-03"]
    with pytest.raises(lg.SelectionError, match=r"2026-01-04, .*and 23 more"):
        lg.materialize(defs, ["model"], partition="us", settings=settings)


def test_hourly_upstream_of_a_daily_asset_gives_the_days_hours(settings: lg.Settings) -> None:
    defs = lg.Definitions(assets=[clicks, daily_clicks])
    for hour in range(24):
        key = f"2026-01-02T{hour:02d}:00"
        assert lg.materialize(defs, ["clicks"], partition=key, settings=settings).ok
    result = lg.materialize(defs, ["daily_clicks"], partition="2026-01-02", settings=settings)
    assert result.value("daily_clicks") == sum(range(24)) + 24_000
    with pytest.raises(lg.SelectionError, match="2026-01-01T00:00"):
        lg.materialize(defs, ["daily_clicks"], partition="2026-01-01", settings=settings)


def test_unpartitioned_assets_in_a_partitioned_run_behave_as_before(
        settings: lg.Settings) -> None:
    defs = lg.Definitions(assets=[rates, priced])
    result = lg.materialize(defs, ["rates", "priced"], partition="2026-01-09",
                            settings=settings)
    assert result.ok and result.value("priced") == "2026-01-09@1.5"
    with SqlStore(settings.store_url) as store:
        rate = store.latest_materialization("rates")
    assert rate is not None and rate.partition_key is None
    again = lg.materialize(defs, ["priced"], partition="2026-01-10", settings=settings)
    assert again.value("priced") == "2026-01-10@1.5"  # the latest, unpartitioned


@pytest.mark.parametrize(("selection", "partition", "error", "words"), [
    (["events"], "2026-02-01", lg.PartitionError, "after the last partition, '2026-01-31'"),
    (["events"], "5 Jan", lg.PartitionError, "write YYYY-MM-DD"),
    (["per_region"], "asia", lg.PartitionError, "not one of the partitions"),
    (["events"], None, lg.PartitionError, "is partitioned (daily from 2026-01-01"),
    (["rates"], "2026-01-05", lg.PartitionError, "none of the selected assets"),
    (["events", "summary"], "2026-01-05", lg.SelectionError, "reads every partition"),
])
def test_bad_partitions_fail_before_a_run(settings: lg.Settings, selection: list[str],
                                          partition: str | None, error: type[Exception],
                                          words: str) -> None:
    defs = lg.Definitions(assets=[events, per_region, summary, rates])
    with pytest.raises(error) as caught:
        lg.materialize(defs, selection, partition=partition, settings=settings)
    assert words in str(caught.value)
    assert isinstance(caught.value, lg.LegatoError) and caught.value.hint
    with SqlStore(settings.store_url) as store:
        assert store.list_runs() == []


def test_a_queued_partitioned_run_executes_its_partition(settings: lg.Settings) -> None:
    defs = lg.Definitions(assets=[events])
    run_id = new_run_id()
    with SqlStore(settings.store_url) as store:
        queue.enqueue(store, [queue.queued_event(
            run_id, kind="assets", target="events", params={}, source=None,
            selection=["events"], partition_key="2026-01-12")])
        [claimed] = queue.claim(store, "worker", 60)
    result = execute_claimed(Runner(settings), claimed, definitions=defs)
    assert result.ok and result.value("events")["day"] == "2026-01-12"


ASSETS = '''
import os
import legato as lg

DAILY = lg.DailyPartitions(start="2026-01-01")


@lg.asset(partitions=DAILY)
def raw(ctx):
    return ctx.partition_key


@lg.asset(partitions=DAILY)
def cooked(ctx, raw):
    with open(os.environ["LEDGER"], "a") as ledger:
        ledger.write(f"cooked {ctx.partition_key}\\n")
    return raw + "!"
'''


def test_a_resumed_partitioned_run_keeps_its_partition(project: Path,
                                                       monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    (project / "part_assets.py").write_text(ASSETS)
    monkeypatch.setenv("LEDGER", str(project / "ledger.txt"))
    monkeypatch.syspath_prepend(str(project))
    settings = lg.Settings(home=project / ".legato")
    script = ("import legato as lg, part_assets as a\n"
              "defs = lg.Definitions(assets=[a.raw, a.cooked])\n"
              "lg.materialize(defs, ['raw', 'cooked'], partition='2026-01-03',\n"
              "               settings=lg.Settings(home='.legato'))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_FAULT="after-commit:1", LEDGER=str(project / "ledger.txt"))
    done = subprocess.run([sys.executable, "-c", script], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == -9, done.stderr  # killed once 'raw' was committed
    try:
        import part_assets

        defs = lg.Definitions(assets=[part_assets.raw, part_assets.cooked])
        with SqlStore(settings.store_url) as store:
            crashed = store.list_runs(status="running")[0]
        assert crashed.partition_key == "2026-01-03"
        resumed = lg.resume(crashed.run_id, definitions=defs, settings=settings)
        assert resumed.ok and resumed.value("cooked") == "2026-01-03!"
        assert (project / "ledger.txt").read_text() == "cooked 2026-01-03\n"
    finally:
        sys.modules.pop("part_assets", None)


def test_cached_partitions_are_not_shared_and_last_good_is_per_partition(
        settings: lg.Settings) -> None:
    calls: list[str] = []

    @lg.asset(partitions=DAILY, cache=lg.cache.by_inputs)
    def cached(ctx: Any) -> str:
        calls.append(ctx.partition_key)
        return str(ctx.partition_key)

    assert lg.materialize([cached], partition="2026-01-01", settings=settings).ok
    second = lg.materialize([cached], partition="2026-01-02", settings=settings)
    assert second.value("cached") == "2026-01-02" and calls == ["2026-01-01", "2026-01-02"]

    fail = {"now": False}

    @lg.asset(partitions=DAILY, fallback=lg.last_good)
    def flaky(ctx: Any) -> str:
        if fail["now"]:
            raise RuntimeError("down")
        return f"good {ctx.partition_key}"

    assert lg.materialize([flaky], partition="2026-01-01", settings=settings).ok
    assert lg.materialize([flaky], partition="2026-01-02", settings=settings).ok
    fail["now"] = True
    fell = lg.materialize([flaky], partition="2026-01-01", settings=settings)
    assert fell.value("flaky") == "good 2026-01-01"
