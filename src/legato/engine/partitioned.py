"""Partitions in a run: which assets of the selection compute the run's partition, and
which partitions of each upstream asset they read.

A run computes at most one partition key (``lg.materialize(..., partition="2026-01-05")``).
Every partitioned asset of the selection computes that partition; the key must be one of
each one's partitions. Unpartitioned assets run as they always do.

An upstream asset outside the selection gives the latest materialization of the
partition(s) its downstream partition maps to (``scheduler/mapping.py``). The value an
asset receives for an upstream is:

- the upstream's value, when the upstream is not partitioned, or when each downstream
  partition uses exactly one upstream partition by construction: the same key
  (``SameKeyMapping``, or ``TimeWindowMapping`` between partitions of one kind), or the
  coarser window holding it (a daily asset reading a monthly one);
- a ``dict`` of partition key to value, in key order, otherwise: every partition
  (``AllPartitionsMapping``, or an unpartitioned asset reading a partitioned one), or the
  finer windows inside its own (a daily asset reading an hourly one).

Within the selection, a partitioned upstream must map to the run's own partition (the
run computes only that one); an unpartitioned asset that reads a partitioned asset of the
same run is refused, since it uses every partition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from legato.definitions.asset import AssetDefinition
from legato.errors import PartitionError, SelectionError
from legato.graph.asset_graph import AssetGraph
from legato.scheduler.mapping import (
    AllPartitionsMapping,
    PartitionMapping,
    SameKeyMapping,
    TimeWindowMapping,
    default_mapping,
)
from legato.scheduler.partitions import Partitions, TimeWindow
from legato.scheduler.time_partitions import TimePartitions
from legato.scheduler.timezones import UTC

_FINENESS = {"hourly": 0, "daily": 1, "weekly": 2, "monthly": 3}


@dataclass(frozen=True, slots=True)
class UpstreamPartitions:
    """Which partitions of an upstream asset one asset reads, and in which shape."""

    keys: Iterator[str] | None
    """The upstream partition keys, lazily; None when the upstream is not partitioned."""
    single: bool
    """One value (True), or a dict of partition key to value (False)."""


def example_key(partitions: Partitions) -> str:
    """A key of ``partitions`` to show in a hint: the newest ended window, or the first."""
    if isinstance(partitions, TimePartitions):
        newest = partitions.last_complete(dt.datetime.now(UTC))
        if newest is not None:
            return newest
    return next(partitions.keys(), "")


def check_run_partition(graph: AssetGraph, keys: list[str], partition_key: str | None
                        ) -> None:
    """Refuse a run whose partition does not fit its selection: a partitioned asset
    without a partition, a key that is not one of an asset's partitions, a partition given
    to unpartitioned assets, or assets of the run that cannot share one partition."""
    partitioned = [k for k in keys if graph.assets[k].partitions is not None]
    if partition_key is None:
        if partitioned:
            key = partitioned[0]
            parts = graph.assets[key].partitions
            assert parts is not None
            example = example_key(parts)
            raise PartitionError(
                f"asset '{key}' is partitioned ({parts.describe()}): say which partition to "
                "materialize",
                hint=f"lg.materialize(..., partition={example!r}), or legato materialize "
                f"{key} --partition {example}; for many partitions, legato backfill {key} "
                "--from KEY --to KEY")
        return
    if not partitioned:
        raise PartitionError(
            f"partition {partition_key!r} was given, but none of the selected assets "
            f"({', '.join(keys[:5])}) is partitioned",
            hint="leave the partition out, or select partitioned assets")
    for key in partitioned:
        parts = graph.assets[key].partitions
        assert parts is not None
        try:
            parts.validate(partition_key)
        except PartitionError as error:
            raise PartitionError(f"asset '{key}': {error}",
                                 hint=error.hint or f"the partitions are {parts.describe()}"
                                 ) from None
    selected = set(keys)
    for key in keys:
        asset = graph.assets[key]
        for up in graph.upstream[key]:
            upstream = graph.assets[up]
            if up not in selected or upstream.partitions is None:
                continue
            if asset.partitions is None:
                raise SelectionError(
                    f"asset '{key}' is not partitioned, so it reads every partition of "
                    f"'{up}', but this run computes only partition {partition_key!r} of it",
                    hint=f"materialize '{key}' in a run of its own, once the partitions of "
                    f"'{up}' are there")
            mapped = list(islice(_upstream_keys(asset, upstream, partition_key), 2))
            if mapped != [partition_key]:
                shown = ", ".join(mapped) + (", ..." if len(mapped) > 1 else "")
                raise SelectionError(
                    f"partition {partition_key!r} of asset '{key}' reads partition(s) "
                    f"{shown or 'none'} of '{up}', but this run computes only "
                    f"{partition_key!r}",
                    hint=f"materialize '{up}' first (legato backfill {up} ...), then '{key}' "
                    "alone")


def asset_partition(asset: AssetDefinition[Any, Any], partition_key: str | None
                    ) -> tuple[str | None, TimeWindow | None]:
    """The partition key an asset computes in a run, and its time window if it has one."""
    parts = asset.partitions
    if partition_key is None or parts is None:
        return None, None
    window = parts.window(partition_key) if isinstance(parts, TimePartitions) else None
    return partition_key, window


def upstream_partitions(asset: AssetDefinition[Any, Any], upstream: AssetDefinition[Any, Any],
                        partition_key: str | None) -> UpstreamPartitions:
    """The partitions of ``upstream`` that ``asset`` reads in a run of ``partition_key``."""
    if upstream.partitions is None:
        return UpstreamPartitions(None, True)
    if asset.partitions is None or partition_key is None:
        return UpstreamPartitions(upstream.partitions.keys(), False)
    mapping = _mapping(asset, upstream)
    return UpstreamPartitions(_upstream_keys(asset, upstream, partition_key),
                              _one_to_one(mapping, asset.partitions, upstream.partitions))


def _mapping(asset: AssetDefinition[Any, Any], upstream: AssetDefinition[Any, Any]
             ) -> PartitionMapping:
    assert asset.partitions is not None and upstream.partitions is not None
    return (asset.partition_mapping(upstream.key)
            or default_mapping(asset.partitions, upstream.partitions)
            or AllPartitionsMapping())


def _upstream_keys(asset: AssetDefinition[Any, Any], upstream: AssetDefinition[Any, Any],
                   partition_key: str) -> Iterator[str]:
    assert asset.partitions is not None and upstream.partitions is not None
    return _mapping(asset, upstream).upstream_keys(partition_key, asset.partitions,
                                                   upstream.partitions)


def _one_to_one(mapping: PartitionMapping, down: Partitions, up: Partitions) -> bool:
    """Whether each downstream partition reads exactly one upstream partition, whatever
    the key: then the asset receives the value itself rather than a dict."""
    if isinstance(mapping, SameKeyMapping):
        return True
    if not isinstance(mapping, TimeWindowMapping):
        return False
    if not (isinstance(down, TimePartitions) and isinstance(up, TimePartitions)):
        return False
    if down.tz != up.tz or {down.unit, up.unit} == {"weekly", "monthly"}:
        return False
    return _FINENESS[up.unit] >= _FINENESS[down.unit]
