"""Sensors and asset-event triggers in ``lg.Definitions``: gathered by name, and each checked
against what it runs (its flow, its asset selection) and what it watches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from legato.definitions.flow import FlowDefinition
from legato.definitions.validation import did_you_mean
from legato.errors import Problem, SelectionError
from legato.graph.asset_graph import AssetGraph
from legato.graph.selection import resolve_selection
from legato.scheduler.asset_events import AssetTriggerDefinition
from legato.scheduler.sensor import SensorDefinition

T = TypeVar("T", SensorDefinition, AssetTriggerDefinition)


def gather(kind: str, given: Iterable[object], cls: type[T], how: str,
           problems: list[Problem]) -> dict[str, T]:
    """The ``cls`` items of ``given`` by name; what is not one, or a second one with a
    name taken, goes to ``problems``."""
    found: dict[str, T] = {}
    items = [given] if isinstance(given, str) or not isinstance(given, Iterable) else given
    for item in items:
        if not isinstance(item, cls):
            problems.append(Problem(f"Definitions({kind}s=...) got {item!r}, which is not "
                                    f"a {kind.replace('_', ' ')}; write {how}"))
            continue
        previous = found.get(item.name)
        if previous is not None and previous is not item:
            problems.append(Problem(
                f"two {kind.replace('_', ' ')}s are named '{item.name}' (the other is at "
                f"{previous.location}); give one another name with name=...",
                item.location.file, item.location.line))
            continue
        found[item.name] = item
    return found


def check_target(what: str, flow: str | None, selection: tuple[str, ...], *,
                 flows: Mapping[str, FlowDefinition[Any, Any]], graph: AssetGraph,
                 where: tuple[str | None, int | None], problems: list[Problem]) -> list[str]:
    """The asset keys a trigger's run materializes (none for a flow); a problem if its
    flow is not defined or its selection names unknown assets."""
    if flow is not None:
        if flow not in flows:
            problems.append(Problem(
                f"{what} runs flow '{flow}', which is not in these definitions"
                f"{did_you_mean(flow, flows)}; add it: Definitions(flows=[...])", *where))
        return []
    try:
        return resolve_selection(graph, list(selection))
    except SelectionError as error:
        problems.append(Problem(f"{what}: {error}", *where))
        return []


def check_sensors(sensors: Mapping[str, SensorDefinition],
                  flows: Mapping[str, FlowDefinition[Any, Any]], graph: AssetGraph,
                  problems: list[Problem]) -> None:
    for name, item in sensors.items():
        check_target(f"sensor '{name}'", item.flow, item.selection, flows=flows, graph=graph,
                     where=(item.location.file, item.location.line), problems=problems)


def check_asset_triggers(triggers: Mapping[str, AssetTriggerDefinition],
                         flows: Mapping[str, FlowDefinition[Any, Any]], graph: AssetGraph,
                         problems: list[Problem]) -> None:
    """Each trigger's upstream assets exist, and its run does not materialize them (it
    would trigger itself forever)."""
    for name, item in triggers.items():
        what = f"asset trigger '{name}'"
        where = (item.location.file, item.location.line)
        for key in item.upstream:
            if key not in graph.assets:
                problems.append(Problem(
                    f"{what} watches asset '{key}', which is not in these definitions"
                    f"{did_you_mean(key, graph.assets)}", *where))
        runs = check_target(what, item.flow, item.selection, flows=flows, graph=graph,
                            where=where, problems=problems)
        loop = sorted(set(runs) & set(item.upstream))
        if loop:
            problems.append(Problem(
                f"{what} runs {', '.join(repr(k) for k in loop)}, which it watches: each run "
                "would trigger the next; run only the assets downstream of it, by name", *where))
