"""The asset service: every asset of the definitions (or of the store) with its latest
materialization and partition counts, on SQLite and PostgreSQL."""

from __future__ import annotations

from legato.definitions.definitions import Definitions
from legato.services import assets, execution
from legato.services.views.assets import PartitionsView
from legato.settings import Settings


def test_assets_of_the_definitions_and_of_the_store(on_backend: Settings,
                                                    defs: Definitions) -> None:
    before = assets.list_assets(on_backend, defs)
    keys = [a.asset_key for a in before]
    assert sorted(keys) == ["days", "doubled", "raw"]
    assert keys.index("raw") < keys.index("doubled")  # in dependency order
    assert all(a.latest_materialization is None for a in before)
    done = execution.materialize(on_backend, defs, execution.select_assets(defs, ["*doubled"]))
    execution.materialize(on_backend, defs, ["days"], partition_key="2020-01-01")
    by_key = {a.asset_key: a for a in assets.list_assets(on_backend, defs)}
    raw = by_key["raw"].latest_materialization
    assert raw is not None and raw.run_id == done.run_id and raw.step_key == "raw"
    assert raw.row_count is None or raw.row_count >= 0
    doubled = by_key["doubled"].latest_materialization
    assert doubled is not None and set(doubled.upstream) == {"raw"}
    assert by_key["raw"].partitions is None
    assert by_key["days"].partitions == PartitionsView(
        definition="daily from 2020-01-01 (UTC)", materialized=1)
    stored = assets.list_assets(on_backend)  # no definitions: the catalog, then the store
    assert [a.asset_key for a in stored] == ["days", "raw", "doubled"]
    assert stored[0].partitions == PartitionsView(definition="daily from 2020-01-01 (UTC)",
                                                  materialized=1)
    assert stored[2].upstream == ("raw",)


def test_catalogued_assets_in_dependency_order_with_their_partitions() -> None:
    """Upstream first (then by key); partitions described from their JSON."""
    from legato.definitions.catalog import AssetEntry, Catalog

    catalog = Catalog(assets={"b": AssetEntry(key="b", inputs=("a",)),
                              "a": AssetEntry(key="a", partitions={
                                  "kind": "static", "keys": ["x", "y"]})})
    known = assets.catalogued_assets(catalog)
    assert [(k.key, k.upstream, k.partitions) for k in known] == [
        ("a", (), "static (2: x, y)"), ("b", ("a",), None)]
    assert assets.describe_partitions({"kind": "hourly", "start": "2026-01-01-00:00",
                                       "end": None, "tz": "Europe/Berlin"}) == (
        "hourly from 2026-01-01-00:00 (Europe/Berlin)")
