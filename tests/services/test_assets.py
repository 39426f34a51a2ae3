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
    stored = assets.list_assets(on_backend)  # no definitions: what the store knows
    assert [a.asset_key for a in stored] == ["days", "doubled", "raw"]
    assert stored[0].partitions == PartitionsView(definition=None, materialized=1)
