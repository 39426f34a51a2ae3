"""Asset selections: ``features``, ``*model`` (with all upstream), ``features*`` (with all
downstream), ``*`` (everything). Several selections are united."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from legato.definitions.asset import AssetDefinition
from legato.definitions.validation import did_you_mean
from legato.errors import SelectionError
from legato.graph.asset_graph import AssetGraph

Selection = str | AssetDefinition[Any, Any] | Iterable[str | AssetDefinition[Any, Any]]


def resolve_selection(graph: AssetGraph, selection: Selection | None) -> list[str]:
    """The selected asset keys in execution order. ``None`` selects every asset."""
    if selection is None:
        items: list[str | AssetDefinition[Any, Any]] = ["*"]
    elif isinstance(selection, str | AssetDefinition):
        items = [selection]
    else:
        items = list(selection)
    chosen: set[str] = set()
    for item in items:
        text = item.key if isinstance(item, AssetDefinition) else str(item).strip()
        if text == "*":
            chosen.update(graph.assets)
            continue
        up, down = text.startswith("*"), text.endswith("*") and len(text) > 1
        key = text.strip("*")
        if key not in graph.assets:
            hint = did_you_mean(key, graph.assets) or (
                f"; defined assets: {', '.join(sorted(graph.assets)[:10])}"
                if graph.assets
                else "; no assets are defined"
            )
            raise SelectionError(f"no asset named '{key}'{hint}")
        chosen.add(key)
        if up:
            chosen |= graph.ancestors([key])
        if down:
            chosen |= graph.descendants([key])
    if not chosen:
        raise SelectionError("the selection is empty: name at least one asset, or '*' for all")
    return graph.sorted(chosen)
