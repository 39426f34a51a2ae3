"""Assets and their materializations.

Which assets exist comes from the loaded definitions when there are some, else from the
definitions catalog (the store's record of the definitions writers loaded: listing assets
never imports user code) and what the store has materialized. That choice is
``known_assets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from legato.services.connect import ReadSource, reading
from legato.services.views.assets import (
    AssetOutcomeView,
    AssetView,
    MaterializationView,
    PartitionsView,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from legato.definitions.catalog import Catalog
    from legato.definitions.definitions import Definitions
    from legato.store.reader import StoreReads
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


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownAsset:
    """What is known of an asset beside its materializations: where it is defined."""

    key: str
    upstream: tuple[str, ...] = ()
    description: str | None = None
    owner: str | None = None
    partitions: str | None = None
    """Its partitions, described; None when not partitioned (or not defined)."""


def defined_assets(definitions: Definitions) -> list[KnownAsset]:
    """The assets of loaded definitions, in dependency order."""
    found = []
    for key in definitions.graph.sorted(definitions.assets):
        asset = definitions.assets[key]
        found.append(KnownAsset(
            key=key, upstream=asset.upstream, description=asset.description,
            owner=asset.owner,
            partitions=asset.partitions.describe() if asset.partitions is not None else None))
    return found


def catalogued_assets(catalog: Catalog) -> list[KnownAsset]:
    """The assets of the definitions catalog (what writers recorded of the definitions
    they loaded), in dependency order (then by key): no user code is imported."""
    entries = catalog.assets
    ordered: list[str] = []
    placed: set[str] = set()
    pending = sorted(entries)
    while pending:  # each pass places the assets whose known upstreams are placed
        ready = [k for k in pending
                 if all(u in placed or u not in entries for u in entries[k].upstream)]
        ready = ready or pending[:1]  # a cycle cannot be recorded; never loop on one
        ordered.extend(ready)
        placed.update(ready)
        pending = [k for k in pending if k not in placed]
    return [KnownAsset(key=key, upstream=entries[key].upstream,
                       description=entries[key].description, owner=entries[key].owner,
                       partitions=describe_partitions(entries[key].partitions))
            for key in ordered]


def describe_partitions(spec: Mapping[str, Any] | None) -> str | None:
    """A catalog entry's partitions (their JSON) as ``Partitions.describe`` says them:
    ``daily from 2026-01-01 (UTC)`` or ``static (3: a, b, c)``."""
    if spec is None:
        return None
    if "keys" in spec:
        keys = [str(k) for k in spec["keys"]]
        shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
        return f"static ({len(keys)}: {shown})"
    until = f" to {spec['end']} (excluded)" if spec.get("end") else ""
    return f"{spec.get('kind')} from {spec.get('start')}{until} ({spec.get('tz', 'UTC')})"


def known_assets(definitions: Definitions | None, store: StoreReads,
                 materialized: Mapping[str, object]) -> list[KnownAsset]:
    """The assets to list: those of the definitions when loaded; else those of the
    definitions catalog, then any other the store materialized (so listing never imports
    user code, and assets never materialized are listed too)."""
    if definitions is not None:
        return defined_assets(definitions)
    from legato.definitions.catalog import current_catalog

    catalog = current_catalog(store)
    found = catalogued_assets(catalog) if catalog is not None else []
    listed = {a.key for a in found}
    return found + [KnownAsset(key=key) for key in sorted(materialized) if key not in listed]


def list_assets(source: ReadSource,
                definitions: Definitions | None = None) -> list[AssetView]:
    """Every asset (of the definitions, else of the definitions catalog and the store) with
    its upstream assets, description and owner, its latest materialization, how its latest
    step ended and, for a partitioned asset, how many partitions were materialized."""
    with reading(source) as store:
        latest = store.latest_materializations()
        counts = store.partition_counts()
        outcomes = store.latest_asset_steps()
        known = known_assets(definitions, store, latest)
    views = []
    for asset in known:
        key = asset.key
        record = latest.get(key)
        partitions = (PartitionsView(definition=asset.partitions,
                                     materialized=counts.get(key, 0))
                      if asset.partitions is not None or key in counts else None)
        views.append(AssetView(
            asset_key=key, upstream=asset.upstream, description=asset.description,
            owner=asset.owner, partitions=partitions,
            latest_outcome=outcome_view(outcomes[key]) if key in outcomes else None,
            latest_materialization=None if record is None else materialization_view(record)))
    return views
