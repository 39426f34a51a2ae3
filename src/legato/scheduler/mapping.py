"""Partition mappings: which partitions of an upstream asset a downstream partition uses.

- ``TimeWindowMapping()``: the upstream partitions whose windows overlap the downstream
  partition's window. Between the same kind of time partitions that is the same key;
  hourly upstream of daily, the day's hours (23 of them when the clocks spring forward);
  daily upstream of hourly, the day holding the hour.
- ``SameKeyMapping()``: the upstream partition with the same key (static lists).
- ``AllPartitionsMapping()``: every upstream partition (a model trained on all days).

When an asset gives no mapping for an upstream, the default is ``TimeWindowMapping`` for
time partitions whose windows line up (same timezone, and one unit nests in the other),
``SameKeyMapping`` for two static lists, and every partition when only the upstream is
partitioned. ``check_mapping`` says why a pair cannot be matched, for ``Definitions``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from legato.errors import PartitionError
from legato.scheduler.partitions import Partitions, StaticPartitions
from legato.scheduler.time_partitions import TimePartitions
from legato.scheduler.timezones import just_before


class PartitionMapping:
    """Base of the mappings: from a downstream partition to upstream ones, and back."""

    __slots__ = ()

    def upstream_keys(self, key: str, downstream: Partitions, upstream: Partitions, *,
                      now: dt.datetime | None = None) -> Iterator[str]:
        """The partitions of ``upstream`` that partition ``key`` of ``downstream`` uses."""
        raise NotImplementedError

    def downstream_keys(self, key: str, upstream: Partitions, downstream: Partitions, *,
                        now: dt.datetime | None = None) -> Iterator[str]:
        """The partitions of ``downstream`` that use partition ``key`` of ``upstream``."""
        raise NotImplementedError

    def problem(self, downstream: Partitions, upstream: Partitions) -> str | None:
        """Why this mapping cannot map these partitions; None when it can."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class TimeWindowMapping(PartitionMapping):
    """Upstream partitions whose time windows overlap the downstream partition's window."""

    def upstream_keys(self, key: str, downstream: Partitions, upstream: Partitions, *,
                      now: dt.datetime | None = None) -> Iterator[str]:
        return _overlapping(key, downstream, upstream)

    def downstream_keys(self, key: str, upstream: Partitions, downstream: Partitions, *,
                        now: dt.datetime | None = None) -> Iterator[str]:
        return _overlapping(key, upstream, downstream)

    def problem(self, downstream: Partitions, upstream: Partitions) -> str | None:
        if not (isinstance(downstream, TimePartitions) and isinstance(upstream, TimePartitions)):
            return "lg.TimeWindowMapping() maps time partitions only"
        return _coverage(downstream, upstream)


@dataclass(frozen=True, slots=True)
class SameKeyMapping(PartitionMapping):
    """The upstream partition with the same key."""

    def upstream_keys(self, key: str, downstream: Partitions, upstream: Partitions, *,
                      now: dt.datetime | None = None) -> Iterator[str]:
        downstream.validate(key)
        return iter([upstream.validate(key)])

    def downstream_keys(self, key: str, upstream: Partitions, downstream: Partitions, *,
                        now: dt.datetime | None = None) -> Iterator[str]:
        upstream.validate(key)
        return iter([key] if downstream.contains(key) else [])

    def problem(self, downstream: Partitions, upstream: Partitions) -> str | None:
        if isinstance(downstream, StaticPartitions) and isinstance(upstream, StaticPartitions):
            missing = [k for k in downstream.key_list if not upstream.contains(k)]
            if missing:
                shown = ", ".join(repr(k) for k in missing[:5])
                return f"its partitions {shown} are not partitions of the upstream"
            return None
        if isinstance(downstream, TimePartitions) and isinstance(upstream, TimePartitions):
            if downstream.unit != upstream.unit:
                return (f"lg.SameKeyMapping() needs keys of one kind, but these are "
                        f"{downstream.unit} and {upstream.unit}; use lg.TimeWindowMapping()")
            return _coverage(downstream, upstream)
        return ("lg.SameKeyMapping() needs two static lists or two time partitions of the "
                "same kind")


@dataclass(frozen=True, slots=True)
class AllPartitionsMapping(PartitionMapping):
    """Every upstream partition."""

    def upstream_keys(self, key: str, downstream: Partitions, upstream: Partitions, *,
                      now: dt.datetime | None = None) -> Iterator[str]:
        downstream.validate(key)
        return upstream.keys(now=now)

    def downstream_keys(self, key: str, upstream: Partitions, downstream: Partitions, *,
                        now: dt.datetime | None = None) -> Iterator[str]:
        upstream.validate(key)
        return downstream.keys(now=now)

    def problem(self, downstream: Partitions, upstream: Partitions) -> str | None:
        return None


def default_mapping(downstream: Partitions, upstream: Partitions) -> PartitionMapping | None:
    """The mapping used when none is given; None when one must be given."""
    if isinstance(downstream, TimePartitions) and isinstance(upstream, TimePartitions):
        return TimeWindowMapping() if downstream.same_calendar(upstream) else None
    if isinstance(downstream, StaticPartitions) and isinstance(upstream, StaticPartitions):
        return SameKeyMapping()
    return None


def check_mapping(downstream: Partitions | None, upstream: Partitions | None,
                  mapping: PartitionMapping | None, *,
                  upstream_name: str = "<upstream>") -> str | None:
    """Why an asset with partitions ``downstream`` cannot use an upstream asset with
    partitions ``upstream`` (through ``mapping``, if one was given); None when it can.
    The sentence completes "asset 'x' cannot use its upstream 'y': ..."."""
    if upstream is None:
        if mapping is not None:
            return "the upstream is not partitioned, so a partition mapping has no effect"
        return None
    if downstream is None:
        if mapping is not None and not isinstance(mapping, AllPartitionsMapping):
            return ("the asset is not partitioned, so it uses every upstream partition; "
                    "remove the mapping or use lg.AllPartitionsMapping()")
        return None
    chosen = mapping if mapping is not None else default_mapping(downstream, upstream)
    if chosen is None:
        both_time = isinstance(downstream, TimePartitions) and isinstance(
            upstream, TimePartitions)
        ways = ("lg.TimeWindowMapping() (overlapping windows) or lg.AllPartitionsMapping() "
                "(every upstream partition)" if both_time else
                "lg.AllPartitionsMapping() (every upstream partition)")
        return (f"its partitions ({downstream.describe()}) do not line up with the "
                f"upstream's ({upstream.describe()}); say how they match with "
                f"partition_mappings={{{upstream_name!r}: ...}}: {ways}")
    return chosen.problem(downstream, upstream)


def _overlapping(key: str, source: Partitions, target: Partitions) -> Iterator[str]:
    if not (isinstance(source, TimePartitions) and isinstance(target, TimePartitions)):
        raise PartitionError("lg.TimeWindowMapping() maps time partitions only")
    window = source.window(key)
    start = max(window.start, target.first_instant())
    target_end = target.end_instant()
    end = window.end if target_end is None else min(window.end, target_end)
    if start >= end:
        return iter(())  # the window lies outside the target's partitions
    first, last = target.key_for(start), target.key_for(just_before(end))
    if first is None or last is None:
        return iter(())
    return target.keys(first, last)


def _coverage(downstream: TimePartitions, upstream: TimePartitions) -> str | None:
    """Every downstream window must lie within the upstream's span."""
    if downstream.first_instant() < upstream.first_instant():
        return (f"it starts before the upstream does ({downstream.describe()} vs "
                f"{upstream.describe()}), so its first partitions would have no upstream "
                "partition; start it later")
    up_end, down_end = upstream.end_instant(), downstream.end_instant()
    if up_end is not None and (down_end is None or down_end > up_end):
        return (f"it goes on after the upstream ends ({downstream.describe()} vs "
                f"{upstream.describe()}); give it an end no later than the upstream's")
    return None
