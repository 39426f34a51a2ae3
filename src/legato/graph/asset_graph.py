"""The asset graph built from definitions, validated once: missing upstreams, cycles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Any

from legato.definitions.asset import AssetDefinition
from legato.definitions.validation import did_you_mean
from legato.errors import Problem


class AssetGraph:
    """Immutable after construction. ``problems`` lists what is wrong, if anything."""

    __slots__ = ("assets", "downstream", "order", "problems", "upstream")

    def __init__(self, assets: Mapping[str, AssetDefinition[Any, Any]]) -> None:
        self.assets = dict(assets)
        self.upstream: dict[str, tuple[str, ...]] = {}
        self.downstream: dict[str, list[str]] = {key: [] for key in self.assets}
        self.problems: list[Problem] = []
        for key, definition in self.assets.items():
            present = []
            for up in definition.upstream:
                if up in self.assets:
                    present.append(up)
                    self.downstream[up].append(key)
                else:
                    self.problems.append(
                        Problem(
                            f"asset '{key}' depends on '{up}', which is not defined"
                            f"{did_you_mean(up, self.assets)}",
                            definition.location.file,
                            definition.location.line,
                        )
                    )
            self.upstream[key] = tuple(present)
        self.order: tuple[str, ...] = ()
        try:
            self.order = tuple(TopologicalSorter(self.upstream).static_order())
        except CycleError as error:
            # graphlib lists the cycle so that each node is upstream of the next one.
            cycle: list[str] = error.args[1]
            first = self.assets[cycle[0]].location
            self.problems.append(
                Problem(
                    "assets form a cycle: " + " -> ".join(cycle) + " (each is upstream of "
                    "the next); remove one of these dependencies",
                    first.file,
                    first.line,
                )
            )

    def ancestors(self, keys: Iterable[str]) -> set[str]:
        return self._walk(keys, self.upstream)

    def descendants(self, keys: Iterable[str]) -> set[str]:
        return self._walk(keys, self.downstream)

    @staticmethod
    def _walk(keys: Iterable[str], edges: Mapping[str, Iterable[str]]) -> set[str]:
        seen: set[str] = set()
        stack = list(keys)
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    def sorted(self, keys: Iterable[str]) -> list[str]:
        """Keys in a valid execution order."""
        wanted = set(keys)
        return [k for k in self.order if k in wanted]
