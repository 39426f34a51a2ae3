"""What a trigger runs: a flow (by name), or an asset selection. Shared by sensors and
asset-event triggers; ``lg.Definitions`` checks that the flow or the assets exist."""

from __future__ import annotations

from collections.abc import Iterable

from legato.definitions.asset import AssetDefinition
from legato.definitions.flow import FlowDefinition


def run_target(flow: object, selection: object, what: str) -> tuple[str | None, tuple[str, ...]]:
    """``(flow name, ())`` or ``(None, asset keys)`` from ``flow=`` or ``selection=``; a
    ValueError unless exactly one is given."""
    if (flow is None) == (selection is None):
        raise ValueError(f"{what} runs a flow or an asset selection: give exactly one of "
                         "flow=my_flow or selection='*model'")
    if flow is not None:
        if isinstance(flow, FlowDefinition):
            return flow.name, ()
        if isinstance(flow, str) and flow.strip():
            return flow.strip(), ()
        raise ValueError(f"flow= takes an @lg.flow or a flow's name, not {flow!r}")
    return None, asset_keys(selection, "selection")


def asset_keys(items: object, what: str) -> tuple[str, ...]:
    """Asset keys (or selection patterns) from a name, an ``@lg.asset``, or a list of them."""
    found: list[object] = ([items] if isinstance(items, str | AssetDefinition)
                           else list(items) if isinstance(items, Iterable) else [items])
    keys: list[str] = []
    for item in found:
        if isinstance(item, AssetDefinition):
            keys.append(item.key)
        elif isinstance(item, str) and item.strip():
            keys.append(item.strip())
        else:
            raise ValueError(f"{what} names assets ('name', '*name', 'name*', '*') or "
                             f"@lg.asset definitions, not {item!r}")
    if not keys:
        raise ValueError(f"{what} is empty: name at least one asset")
    return tuple(dict.fromkeys(keys))


def describe_target(flow: str | None, selection: tuple[str, ...]) -> str:
    """``flow nightly`` or ``assets *model, report``."""
    return f"flow {flow}" if flow else f"assets {', '.join(selection)}"

