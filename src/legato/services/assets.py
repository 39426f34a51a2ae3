"""Assets and their materializations.

Which assets exist comes from the loaded definitions when there are some, else from what
the store has materialized. That choice is ``asset_keys``: the definitions catalog (the
store's record of the definitions a writer loaded) will be its third source, read when no
definitions are loaded, so that listing assets never imports user code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from legato.services.connect import ReadSource, reading
from legato.services.views.assets import (
    AssetOutcomeView,
    AssetView,
    MaterializationView,
    PartitionsView,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from legato.definitions.definitions import Definitions
    from legato.store.records import MaterializationRecord, StepRecord


def materialization_view(record: MaterializationRecord) -> MaterializationView:
    return MaterializationView(
        materialization_id=record.materialization_id, asset_key=record.asset_key,
        run_id=record.run_id, step_key=record.step_key, partition_key=record.partition_key,
        created_at=record.created_at, code_version=record.code_version,
        data_version=record.data_version, upstream=dict(record.upstream),
        row_count=record.row_count,
        columns=dict(record.columns) if record.columns is not None else None)


def outcome_view(step: StepRecord) -> AssetOutcomeView:
    return AssetOutcomeView(run_id=step.run_id, status=str(step.status),
                            ended_at=step.ended_at or 0.0, error=step.error,
                            reason=step.reason)


def asset_keys(definitions: Definitions | None,
               materialized: Mapping[str, object]) -> tuple[list[str], dict[str, str]]:
    """The assets to list, in dependency order when defined, and the description of the
    partitions of each partitioned one. Without definitions: the materialized assets
    (the catalog will answer here, see the module's docstring)."""
    if definitions is None:
        return sorted(materialized), {}
    keys = list(definitions.graph.sorted(definitions.assets))
    described = {key: a.partitions.describe() for key, a in definitions.assets.items()
                 if a.partitions is not None}
    return keys, described


def list_assets(source: ReadSource,
                definitions: Definitions | None = None) -> list[AssetView]:
    """Every asset (of the definitions, else every asset the store knows) with its latest
    materialization, how its latest step ended and, for a partitioned asset, how many
    partitions were materialized."""
    with reading(source) as store:
        latest = store.latest_materializations()
        counts = store.partition_counts()
        outcomes = store.latest_asset_steps()
    keys, described = asset_keys(definitions, latest)
    views = []
    for key in keys:
        record = latest.get(key)
        partitions = (PartitionsView(definition=described.get(key),
                                     materialized=counts.get(key, 0))
                      if key in described or key in counts else None)
        views.append(AssetView(
            asset_key=key, partitions=partitions,
            latest_outcome=outcome_view(outcomes[key]) if key in outcomes else None,
            latest_materialization=None if record is None else materialization_view(record)))
    return views
