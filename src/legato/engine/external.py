"""Upstream assets outside a run's selection: the materializations a selected asset reads.

An unpartitioned upstream gives its latest materialization. A partitioned one gives the
latest materialization of each partition the asset's partition maps to
(``engine/partitioned.py`` says which, and whether the asset receives one value or a
dict of them). A missing one fails the run before it starts, naming what to materialize.

A resumed run reads the materializations it started with: the run's ``run_started`` event
records them as ``inputs``, ``{upstream: materialization_id}`` for an unpartitioned
upstream and ``{upstream: {partition_key: materialization_id}}`` for a partitioned one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, cast

from legato.engine.partitioned import upstream_partitions
from legato.engine.session import RunSession
from legato.errors import MissingUpstreamError, SelectionError
from legato.graph.asset_graph import AssetGraph
from legato.store.records import MaterializationRecord, StoredValue

if TYPE_CHECKING:
    from legato.store.sql_store import SqlStore

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ExternalInput:
    """What a selected asset reads of one upstream outside the selection: the value (a dict
    of partition key to value when it reads several partitions) and the materialization
    ids, for lineage (``{upstream: id}``, or ``{"upstream[partition]": id}``)."""

    value: Any
    materialization_ids: dict[str, str]


@dataclass(slots=True)
class _Reads:
    """The materializations one asset reads of one upstream."""

    records: list[tuple[str | None, MaterializationRecord]]
    single: bool
    wanted: bool
    stored: dict[str, StoredValue] = field(default_factory=dict)


def _missing(key: str, up: str, partition_key: str | None, missing: list[str], more: int,
             *, up_has_upstream: bool = False) -> SelectionError:
    of = f"partition {partition_key!r} of asset '{key}'" if partition_key else f"asset '{key}'"
    if not missing:
        return SelectionError(
            f"{of} needs '{up}', which has never been materialized",
            hint=f"add it to the selection, e.g. '*{key}' for {key} and everything upstream "
            "of it")
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5 + more} more"
                                      if len(missing) > 5 or more else "")
    return MissingUpstreamError(
        f"{of} needs partition(s) {shown} of '{up}', which have never been materialized",
        upstream=up, missing=missing, more=more, upstream_has_upstream=up_has_upstream)


def _partition_reads(session: RunSession, up: str, keys: Iterator[str],
                     pinned: dict[str, str] | None
                     ) -> tuple[list[tuple[str | None, MaterializationRecord]], list[str], int]:
    """The newest materialization of each partition in ``keys`` (the pinned ones for a
    resumed run); the missing partitions (the first 100) and how many more are missing."""
    found: list[tuple[str | None, MaterializationRecord]] = []
    missing: list[str] = []
    more = 0
    while True:
        chunk = list(islice(keys, _CHUNK))
        if not chunk:
            break
        if pinned is not None:
            ids = {k: pinned[k] for k in chunk if k in pinned}
            records = {k: r for k, mid in ids.items()
                       if (r := session.store.get_materialization(mid)) is not None}
        else:
            records = session.store.latest_partition_materializations(up, chunk)
        for k in chunk:
            record = records.get(k)
            if record is not None:
                found.append((k, record))
            elif len(missing) < 100:
                missing.append(k)
            else:
                more += 1
    return found, missing, more


def _external(session: RunSession, graph: AssetGraph, keys: list[str],
              partition_key: str | None) -> dict[tuple[str, str], _Reads]:
    """For each (selected asset, upstream outside the selection): what it reads; raises
    when something is missing."""
    selected = set(keys)
    pinned: dict[str, Any] = (dict(session.history.started.get("inputs") or {})
                              if session.history else {})
    found: dict[tuple[str, str], _Reads] = {}
    for key in keys:
        asset = graph.assets[key]
        for up in graph.upstream[key]:
            if up in selected:
                continue
            wanted = up in asset.inputs
            mapped = upstream_partitions(asset, graph.assets[up], partition_key)
            own = partition_key if asset.partitions is not None else None
            if mapped.keys is None:
                mid = pinned.get(up)
                record = (session.store.get_materialization(mid) if isinstance(mid, str)
                          else session.store.latest_materialization(up))
                if record is None:
                    raise _missing(key, up, own, [], 0)
                found[key, up] = _Reads([(None, record)], True, wanted)
                continue
            given = pinned.get(up)
            records, missing, more = _partition_reads(
                session, up, mapped.keys, given if isinstance(given, dict) else None)
            if missing or (mapped.single and not records):
                raise _missing(key, up, own, missing, more,
                               up_has_upstream=bool(graph.upstream[up]))
            found[key, up] = _Reads(records, mapped.single, wanted)
    ids = [r.value_id for reads in found.values() for _, r in reads.records]
    stored = session.store.get_values(ids)
    for (key, up), reads in found.items():
        gone = [r for _, r in reads.records if r.value_id not in stored]
        if gone:
            raise SelectionError(
                f"asset '{key}' needs '{up}', whose materialization {gone[0].materialization_id}"
                " has no stored value any more",
                hint=f"materialize '{up}' again, or add it to the selection")
        reads.stored = {r.value_id: stored[r.value_id] for _, r in reads.records}
    return found


def check_external(session: RunSession, graph: AssetGraph, keys: list[str],
                   partition_key: str | None = None) -> dict[str, Any]:
    """Fail before the run starts when an upstream asset outside the selection (or one of
    the partitions read of it) was never materialized, without loading any value; else the
    materializations the run will read (the ``inputs`` of its ``run_started`` event)."""
    inputs: dict[str, Any] = {}
    for (_, up), reads in _external(session, graph, keys, partition_key).items():
        if reads.records and reads.records[0][0] is None:
            inputs[up] = reads.records[0][1].materialization_id
        else:
            mine = inputs.setdefault(up, {})
            for pk, record in reads.records:
                mine[pk] = record.materialization_id
    return inputs


@dataclass(frozen=True, slots=True)
class _NotStarted:
    """What ``check_external`` reads of a session, for a run not started yet."""

    store: SqlStore
    history: None = None


def check_upstream(store: SqlStore, graph: AssetGraph, keys: list[str],
                   partition_key: str | None = None) -> None:
    """``check_external`` before any run exists (each partition of a backfill, before it
    starts): raises ``SelectionError`` (``MissingUpstreamError``) naming what is missing."""
    check_external(cast("RunSession", _NotStarted(store)), graph, keys, partition_key)


def load_external(session: RunSession, graph: AssetGraph, keys: list[str],
                  partition_key: str | None = None) -> dict[tuple[str, str], ExternalInput]:
    """For each (selected asset, upstream outside the selection): the value it reads (when
    it takes the upstream as an input) and the materializations it reads."""
    loaded: dict[str, Any] = {}

    def value(record: MaterializationRecord, reads: _Reads) -> Any:
        if record.value_id not in loaded:
            loaded[record.value_id] = session.values.get(reads.stored[record.value_id])
        return loaded[record.value_id]

    external: dict[tuple[str, str], ExternalInput] = {}
    for (key, up), reads in _external(session, graph, keys, partition_key).items():
        if reads.single:
            _, record = reads.records[0]
            external[key, up] = ExternalInput(value(record, reads) if reads.wanted else None,
                                              {up: record.materialization_id})
            continue
        external[key, up] = ExternalInput(
            {pk: value(record, reads) for pk, record in reads.records} if reads.wanted
            else None,
            {f"{up}[{pk}]": record.materialization_id for pk, record in reads.records})
    return external
