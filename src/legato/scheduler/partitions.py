"""Partitions of an asset: the slices it is computed in, each named by a partition key.

``StaticPartitions(["eu", "us"])`` is a fixed list; time partitions (hourly, daily,
weekly, monthly: ``time_partitions``) are windows of local calendar time. Every kind can
check a key (``validate``), list the keys between two keys lazily (``keys``: a generator,
so 100,000 partitions are never held in memory) and describe itself.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from legato.definitions.source import caller_location
from legato.definitions.validation import did_you_mean
from legato.errors import DefinitionError, PartitionError, Problem


class Partitions(ABC):
    """What every kind of partitions can do."""

    __slots__ = ()

    kind: str

    @abstractmethod
    def validate(self, key: str, *, now: dt.datetime | None = None) -> str:
        """The key, when it is one of these partitions; ``PartitionError`` saying what the
        valid keys are otherwise. With ``now``, time partitions also refuse a window that
        has not ended yet."""

    @abstractmethod
    def keys(self, first: str | None = None, last: str | None = None, *,
             now: dt.datetime | None = None) -> Iterator[str]:
        """The keys from ``first`` to ``last`` (both included; default: all), in order,
        one at a time. Open-ended time partitions stop at the last window ended by ``now``
        (default: the current time)."""

    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def to_json(self) -> dict[str, Any]: ...

    def contains(self, key: str) -> bool:
        try:
            self.validate(key)
        except PartitionError:
            return False
        return True


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A partition's span of time: ``start`` included, ``end`` excluded, both in UTC (so
    that arithmetic is exact across DST changes); ``local_start`` and ``local_end`` are the
    same instants in the partitions' timezone ``tz``."""

    start: dt.datetime
    end: dt.datetime
    tz: str = "UTC"

    def __contains__(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    @property
    def local_start(self) -> dt.datetime:
        return self.start.astimezone(ZoneInfo(self.tz))

    @property
    def local_end(self) -> dt.datetime:
        return self.end.astimezone(ZoneInfo(self.tz))

    def __repr__(self) -> str:
        return (f"TimeWindow({self.local_start.isoformat()} to {self.local_end.isoformat()}, "
                f"{self.tz})")


class StaticPartitions(Partitions):
    """A fixed list of partition keys (regions, customers, models), in the order given."""

    __slots__ = ("_index", "key_list")
    kind = "static"

    def __init__(self, keys: Iterable[str]) -> None:
        try:
            self.key_list: tuple[str, ...] = _check_static_keys(keys)
        except ValueError as error:
            where = caller_location()
            raise DefinitionError([Problem(f"StaticPartitions: {error}", where.file,
                                           where.line)]) from None
        self._index = {key: i for i, key in enumerate(self.key_list)}

    def validate(self, key: str, *, now: dt.datetime | None = None) -> str:
        if isinstance(key, str) and key in self._index:
            return key
        shown = ", ".join(repr(k) for k in self.key_list[:10])
        more = f" and {len(self.key_list) - 10} more" if len(self.key_list) > 10 else ""
        raise PartitionError(
            f"{key!r} is not one of the partitions{did_you_mean(str(key), self.key_list)}",
            hint=f"the partitions are {shown}{more}")

    def keys(self, first: str | None = None, last: str | None = None, *,
             now: dt.datetime | None = None) -> Iterator[str]:
        low = self._index[self.validate(first)] if first is not None else 0
        high = self._index[self.validate(last)] if last is not None else len(self.key_list) - 1
        if low > high:
            raise PartitionError(f"the range {first!r} to {last!r} is in the wrong order: "
                                 f"{first!r} comes after {last!r} in the partitions",
                                 hint="swap the two keys")
        return iter(self.key_list[low:high + 1])

    def describe(self) -> str:
        shown = ", ".join(self.key_list[:5]) + (", ..." if len(self.key_list) > 5 else "")
        return f"static ({len(self.key_list)}: {shown})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "keys": list(self.key_list)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaticPartitions) and other.key_list == self.key_list

    def __hash__(self) -> int:
        return hash(self.key_list)

    def __repr__(self) -> str:
        return f"StaticPartitions({list(self.key_list)!r})"


def _check_static_keys(keys: Iterable[str]) -> tuple[str, ...]:
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise ValueError(f"keys must be a list of strings, not {keys!r}")
    found = tuple(keys)
    if not found:
        raise ValueError("there must be at least one key")
    seen: set[str] = set()
    for key in found:
        if not isinstance(key, str) or not key:
            raise ValueError(f"keys must be non-empty strings, got {key!r}")
        if key != key.strip() or any(c in key for c in ",\n\r\t"):
            raise ValueError(f"key {key!r} has surrounding spaces, a comma or a control "
                             "character; keys are written on command lines and in lists")
        if key in seen:
            raise ValueError(f"key {key!r} appears twice")
        seen.add(key)
    return found
