"""The definitions catalog as data: what a snapshot holds, that it is deterministic (the same
definitions give the same hash in every process and whatever order they were given in),
that it reads back as it was written, and that next ticks are computed when read."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import legato as lg
from legato.definitions.catalog import Catalog, TriggerEntry, merge, next_ticks
from legato.definitions.recording import catalog_of, snapshot_json, snapshot_of
from legato.store.catalog import canonical_json, content_hash

UTC = dt.UTC

PROJECT = '''
import legato as lg

class Marker:
    pass

@lg.asset(retries=lg.Retry(2, backoff="constant", base="5s"), owner="ana", tags=["core"],
          timeout="10m", cache=lg.cache.by_inputs.within("1d"), fallback=lg.last_good)
def raw() -> list[int]:
    """Raw numbers."""
    return [1, 2]

@lg.asset(partitions=lg.DailyPartitions(start="2026-01-01", tz="Europe/Berlin"))
def days() -> int:
    return 1

@lg.asset(partitions=lg.DailyPartitions(start="2026-01-01", tz="Europe/Berlin"),
          deps=["raw", "days"], partition_mappings={"days": lg.TimeWindowMapping()})
def daily(ctx) -> int:
    return 1

@lg.asset(code_version="v7")
def total(raw: list[int]) -> int:
    return sum(raw)

@lg.task(retries=3)
def add(a: int, b: int = 2, *, marker: Marker = Marker()) -> int:
    return a + b

@lg.flow(schedule=lg.cron("0 3 * * *", tz="Europe/Berlin", catch_up="all", catch_up_limit=5))
def nightly(ds: str, n: int = 3, names: list = ["a", "b"]) -> int:
    """Add things up."""
    return add(n)

@lg.sensor(interval="30s", flow=nightly, timeout=12)
def new_files(ctx):
    return None

report = lg.on_materialized("raw", "days", run=nightly, mode="all", name="report")
models = lg.schedule("total", lg.every("15m"), name="fifteen")
'''


def _load(project: Path, text: str = PROJECT, name: str = "pipelines.py") -> lg.Definitions:
    (project / name).write_text(text)
    return lg.load(str(project / name))


def test_a_snapshot_holds_the_metadata_of_every_definition(user_code: Path) -> None:
    catalog = catalog_of(_load(user_code))
    assert sorted(catalog.assets) == ["daily", "days", "raw", "total"]
    raw = catalog.assets["raw"]
    assert (raw.description, raw.owner, raw.group, raw.checks) == ("Raw numbers.", "ana",
                                                                   None, ())
    assert raw.location is not None and raw.location.endswith("pipelines.py:7")
    policy = raw.policy
    assert (policy.retry.retries, policy.retry.backoff, policy.retry.base) == (2, "constant", 5.0)
    assert (policy.timeout, policy.fallback, policy.tags) == (600.0, "last_good", ("core",))
    assert policy.cache is not None and (policy.cache.by, policy.cache.expires_after) == (
        "inputs", 86400.0)
    assert len(raw.code_version) == 12 and catalog.assets["total"].code_version == "v7"
    daily = catalog.assets["daily"]
    assert (daily.inputs, daily.deps, daily.upstream) == ((), ("raw", "days"), ("raw", "days"))
    assert daily.partitions == {"kind": "daily", "start": "2026-01-01", "end": None,
                                "tz": "Europe/Berlin"}
    assert daily.partition_mappings == {"days": "TimeWindowMapping"}
    assert catalog.upstream("total") == ("raw",) and catalog.downstream("raw") == ("daily",
                                                                                  "total")
    add = catalog.tasks["add"]
    assert add.policy.retry.retries == 3
    a, b, marker = add.params
    assert (a.name, a.annotation, a.has_default) == ("a", "int", False)
    assert (b.default, b.has_default, b.default_repr) == (2, True, None)
    assert (marker.kind, marker.default, marker.has_default) == ("keyword_only", None, True)
    assert marker.default_repr is not None and marker.default_repr.endswith("Marker object>")
    assert " at 0x" not in marker.default_repr  # the same in every process
    nightly = catalog.flows["nightly"]
    assert nightly.description == "Add things up."
    assert [(p.name, p.default) for p in nightly.params] == [("ds", None), ("n", 3),
                                                             ("names", ["a", "b"])]


def test_a_snapshot_holds_every_trigger_with_its_spec(user_code: Path) -> None:
    triggers = catalog_of(_load(user_code)).triggers
    assert sorted(triggers) == ["asset_trigger:report", "schedule:fifteen", "schedule:nightly",
                                "sensor:new_files"]
    nightly = triggers["schedule:nightly"]
    assert (nightly.kind, nightly.flow, nightly.target) == ("schedule", "nightly",
                                                            "flow nightly")
    assert nightly.cadence is not None
    assert (nightly.cadence.kind, nightly.cadence.expression, nightly.cadence.tz) == (
        "cron", "0 3 * * *", "Europe/Berlin")
    assert (nightly.catch_up, nightly.catch_up_limit, nightly.fills) == ("all", 5, ("ds",))
    assert nightly.paused_by_default is False
    fifteen = triggers["schedule:fifteen"]
    assert fifteen.selection == ("total",) and fifteen.cadence is not None
    assert (fifteen.cadence.kind, fifteen.cadence.seconds) == ("interval", 900)
    sensor = triggers["sensor:new_files"]
    assert sensor.cadence is not None and (sensor.cadence.seconds, sensor.timeout) == (30, 12.0)
    report = triggers["asset_trigger:report"]
    assert (report.upstream, report.mode, report.flow, report.cadence) == (
        ("raw", "days"), "all", "nightly", None)


def test_next_ticks_are_computed_from_the_spec_when_read(user_code: Path) -> None:
    triggers = catalog_of(_load(user_code)).triggers
    now = dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Berlin springs forward on the 29th
    assert next_ticks(triggers["schedule:nightly"], now, 2) == [
        dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), dt.datetime(2026, 3, 30, 1, 0, tzinfo=UTC)]
    assert next_ticks(triggers["schedule:fifteen"], now) == [
        dt.datetime(2026, 3, 28, 12, 15, tzinfo=UTC)]
    assert next_ticks(triggers["sensor:new_files"], now) == [
        dt.datetime(2026, 3, 28, 12, 0, 30, tzinfo=UTC)]
    assert next_ticks(triggers["asset_trigger:report"], now, 3) == []


def test_a_snapshot_reads_back_as_it_was_written(user_code: Path) -> None:
    defs = _load(user_code)
    digest, text = snapshot_of(defs)
    assert content_hash(text) == digest
    catalog = Catalog.from_json(json.loads(text))
    assert catalog == catalog_of(defs)
    assert catalog.text() == text == canonical_json(snapshot_json(defs))


def test_fields_a_reader_does_not_know_are_left_out() -> None:
    """A newer writer may add fields within a format: an older reader reads the rest."""
    catalog = Catalog.from_json({
        "format": 1, "future": {"x": 1},
        "assets": [{"key": "a", "inputs": ["b"], "freshness": "6h",
                    "policy": {"retry": {"retries": 2, "later": True}, "io": "json"}},
                   {"key": "b"}],
        "triggers": [{"key": "schedule:s", "kind": "schedule", "name": "s", "flow": "f",
                      "cadence": {"kind": "cron", "expression": "@daily", "owner": "x"}}]})
    assert catalog.assets["a"].inputs == ("b",) and catalog.assets["a"].policy.io == "json"
    assert catalog.assets["a"].policy.retry.retries == 2
    assert catalog.downstream("b") == ("a",) and catalog.flows == {}
    trigger = catalog.triggers["schedule:s"]
    assert isinstance(trigger, TriggerEntry) and trigger.cadence is not None
    assert next_ticks(trigger, dt.datetime(2026, 1, 1, 5, tzinfo=UTC)) == [
        dt.datetime(2026, 1, 2, tzinfo=UTC)]


def test_the_order_definitions_are_given_in_does_not_change_the_hash(user_code: Path) -> None:
    defs = _load(user_code)
    objects = [*defs.assets.values(), *defs.tasks.values(), *defs.flows.values(),
               *defs.sensors.values(), *defs.asset_triggers.values(),
               *(s for s in defs.schedules.values() if s.name == "fifteen")]
    forward = lg.Definitions.collect(objects, source=defs.source)
    backward = lg.Definitions.collect(list(reversed(objects)), source=defs.source)
    assert list(forward.assets) != list(backward.assets)
    assert snapshot_of(forward)[0] == snapshot_of(backward)[0] == snapshot_of(defs)[0]


def test_a_change_of_metadata_changes_the_hash(user_code: Path) -> None:
    before = snapshot_of(_load(user_code))[0]
    changed = PROJECT.replace('owner="ana"', 'owner="bo"')
    after = snapshot_of(_load(user_code, changed, "other.py"))[0]
    moved = snapshot_of(_load(user_code, PROJECT, "other2.py"))[0]
    assert len({before, after, moved}) == 3  # the owner; where the definitions are


def _hash_in_a_process(project: Path, script: str) -> str:
    code = ("import sys, legato as lg\n"
            "from legato.definitions.recording import snapshot_of\n"
            f"print(snapshot_of(lg.load({str(project / script)!r}))[0])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=project)
    return out.stdout.strip()


def test_the_same_definitions_give_the_same_hash_in_every_process(user_code: Path) -> None:
    """Nothing of the process gets in: no memory address, no hash seed, no set order."""
    (user_code / "pipelines.py").write_text(PROJECT)
    hashes = {_hash_in_a_process(user_code, "pipelines.py") for _ in range(2)}
    assert hashes == {snapshot_of(lg.load(str(user_code / "pipelines.py")))[0]}


def test_merged_catalogs_prefer_the_location_recorded_last() -> None:
    def one(owner: str, location: str, at: float, extra: str) -> Catalog:
        return Catalog.from_json(
            {"assets": [{"key": "shared", "owner": owner}, {"key": extra}]},
            locations=(location,), recorded_at=at)

    merged = merge([one("old", "module:a", 1.0, "only_a"), one("new", "module:b", 2.0,
                                                                "only_b")])
    assert merged.assets["shared"].owner == "new"
    assert list(merged.assets) == ["only_a", "only_b", "shared"]
    assert merged.locations == ("module:a", "module:b") and merged.recorded_at == 2.0
