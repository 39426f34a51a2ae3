"""Checks across definitions, made by ``lg.Definitions``: each partitioned asset against
its upstreams' partitions, and each schedule against what it runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from legato.definitions.asset import AssetDefinition
from legato.definitions.flow import FlowDefinition, schedule_fills
from legato.definitions.schedule import ScheduleDefinition
from legato.definitions.validation import did_you_mean
from legato.errors import Problem, SelectionError
from legato.graph.asset_graph import AssetGraph
from legato.graph.selection import resolve_selection
from legato.scheduler.mapping import check_mapping
from legato.scheduler.partitions import Partitions


def partition_problems(graph: AssetGraph) -> list[Problem]:
    """An asset whose partitions cannot be matched to an upstream's, for each such pair."""
    problems: list[Problem] = []
    for key, asset in graph.assets.items():
        for up in graph.upstream.get(key, ()):
            upstream = graph.assets[up]
            why = check_mapping(asset.partitions, upstream.partitions,
                                asset.partition_mapping(up), upstream_name=up)
            if why:
                problems.append(Problem(f"asset '{key}' cannot use its upstream '{up}': {why}",
                                        asset.location.file, asset.location.line))
    return problems


def gather_schedules(explicit: Iterable[object], flows: Mapping[str, FlowDefinition[Any, Any]],
                     problems: list[Problem]) -> dict[str, ScheduleDefinition]:
    """The schedules of ``@lg.flow(schedule=...)`` and the ones given, by name."""
    found: dict[str, ScheduleDefinition] = {}
    given = list(explicit)
    written = [ScheduleDefinition(name=f.name, spec=f.schedule, flow=f.name,
                                  description=f.description, location=f.location,
                                  fills=schedule_fills(f.schedule, f.fn))
               for f in flows.values() if f.schedule is not None]
    for item in [*written, *given]:
        if not isinstance(item, ScheduleDefinition):
            problems.append(Problem(f"Definitions(schedules=...) got {item!r}, which is not "
                                    "a schedule; write lg.schedule(target, lg.cron(...), "
                                    "name=...)"))
            continue
        previous = found.get(item.name)
        if previous is not None and previous != item:
            problems.append(Problem(
                f"two schedules are named '{item.name}' (the other is at {previous.location}); "
                "name one otherwise with lg.schedule(..., name=...)",
                item.location.file, item.location.line))
            continue
        found[item.name] = item
    return found


def bind_schedules(schedules: Mapping[str, ScheduleDefinition],
                   flows: Mapping[str, FlowDefinition[Any, Any]], graph: AssetGraph,
                   problems: list[Problem]) -> dict[str, ScheduleDefinition]:
    """Each schedule checked against its target, with its selection's partitions bound."""
    bound: dict[str, ScheduleDefinition] = {}
    for name, item in schedules.items():
        where = (item.location.file, item.location.line)
        if item.flow is not None:
            if item.flow not in flows:
                problems.append(Problem(
                    f"schedule '{name}' runs flow '{item.flow}', which is not in these "
                    f"definitions{did_you_mean(item.flow, flows)}; add it: "
                    "Definitions(flows=[...], schedules=[...])", *where))
                continue
            bound[name] = item
            continue
        try:
            keys = resolve_selection(graph, list(item.selection))
        except SelectionError as error:
            problems.append(Problem(f"schedule '{name}': {error}", *where))
            continue
        partitions, why = _common_partitions(graph.assets[k] for k in keys)
        if why:
            problems.append(Problem(f"schedule '{name}': {why}", *where))
            continue
        bound[name] = replace(item, partitions=partitions)
    return bound


def _common_partitions(assets: Iterable[AssetDefinition[Any, Any]]
                       ) -> tuple[Partitions | None, str | None]:
    """The one partitions definition the partitioned assets of a run share."""
    found: dict[Partitions, str] = {}
    for asset in assets:
        if asset.partitions is not None:
            found.setdefault(asset.partitions, asset.key)
    if len(found) > 1:
        names = ", ".join(f"'{key}' ({p.describe()})" for p, key in found.items())
        return None, (f"its assets are partitioned differently ({names}); a run computes "
                      "one partition, so schedule them separately")
    only = next(iter(found), None)
    if only is not None and only.kind == "static":
        return None, ("its assets have static partitions, which have no time to tick "
                      "with; schedule a flow instead, or time partitions")
    return only, None
