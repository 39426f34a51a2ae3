"""``lg.Definitions``: the assets, flows and schedules of a project, gathered and validated
at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from legato.definitions.asset import AssetDefinition
from legato.definitions.flow import FlowDefinition
from legato.definitions.task import TaskDefinition
from legato.definitions.validation import did_you_mean
from legato.errors import DefinitionError, Problem
from legato.graph.asset_graph import AssetGraph

if TYPE_CHECKING:
    from legato.definitions.schedule import ScheduleDefinition
    from legato.scheduler.asset_events import AssetTriggerDefinition
    from legato.scheduler.sensor import SensorDefinition
    from legato.scheduler.trigger import Trigger

Definition = AssetDefinition[Any, Any] | FlowDefinition[Any, Any] | TaskDefinition[Any, Any]


class Definitions:
    """Everything a project defines. Raises ``DefinitionError`` listing every problem:
    duplicate names, missing upstream assets (with a did-you-mean), cycles, non-definitions,
    partitions that do not match an upstream's, schedules of nothing.

    ``schedules`` holds every schedule by name: those given here (``lg.schedule(...)``) and
    one per ``@lg.flow(schedule=...)``, named after the flow. ``sensors`` (``@lg.sensor``)
    and ``asset_triggers`` (``lg.on_materialized(...)``) are by name too; ``triggers()``
    gives all three kinds by trigger key, as the scheduler evaluates them.
    """

    __slots__ = ("asset_triggers", "assets", "flows", "graph", "schedules", "sensors",
                 "source", "tasks")

    def __init__(
        self,
        assets: Iterable[AssetDefinition[Any, Any]] = (),
        flows: Iterable[FlowDefinition[Any, Any]] = (),
        tasks: Iterable[TaskDefinition[Any, Any]] = (),
        schedules: Iterable[ScheduleDefinition] | Iterable[object] = (),
        *,
        sensors: Iterable[SensorDefinition] | Iterable[object] = (),
        asset_triggers: Iterable[AssetTriggerDefinition] | Iterable[object] = (),
        source: str | None = None,
    ) -> None:
        problems: list[Problem] = []
        self.assets = _gather("asset", assets, AssetDefinition, problems)
        self.flows = _gather("flow", flows, FlowDefinition, problems)
        self.tasks = _gather("task", tasks, TaskDefinition, problems)
        self.source = source
        """How these definitions were loaded (``module:pkg.mod`` or ``file:/path.py``)."""
        self.graph = AssetGraph(self.assets)
        problems.extend(self.graph.problems)
        self.schedules: dict[str, ScheduleDefinition] = {}
        given: list[object] = ([schedules] if isinstance(schedules, str)
                               or not isinstance(schedules, Iterable) else list(schedules))
        if not problems and _automated(self.assets, self.flows, given):
            from legato.definitions.consistency import (
                bind_schedules,
                gather_schedules,
                partition_problems,
            )

            problems.extend(partition_problems(self.graph))
            found = gather_schedules(given, self.flows, problems)
            self.schedules = bind_schedules(found, self.flows, self.graph, problems)
        self.sensors: dict[str, SensorDefinition] = {}
        self.asset_triggers: dict[str, AssetTriggerDefinition] = {}
        sensors, asset_triggers = _listed(sensors), _listed(asset_triggers)
        if not problems and (sensors or asset_triggers):
            from legato.definitions import automation
            from legato.scheduler.asset_events import AssetTriggerDefinition
            from legato.scheduler.sensor import SensorDefinition

            self.sensors = automation.gather("sensor", sensors, SensorDefinition,
                                             "@lg.sensor(...)", problems)
            self.asset_triggers = automation.gather(
                "asset_trigger", asset_triggers, AssetTriggerDefinition,
                "lg.on_materialized(...)", problems)
            automation.check_sensors(self.sensors, self.flows, self.graph, problems)
            automation.check_asset_triggers(self.asset_triggers, self.flows, self.graph,
                                            problems)
        if problems:
            raise DefinitionError(problems)

    @classmethod
    def collect(cls, objects: Iterable[object], *, source: str | None = None) -> Definitions:
        """Gather the definitions found among ``objects`` (e.g. a module's globals)."""
        assets, flows, tasks, schedules, sensors, asset_triggers = [], [], [], [], [], []
        seen: set[int] = set()
        for obj in objects:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if isinstance(obj, AssetDefinition):
                assets.append(obj)
            elif isinstance(obj, FlowDefinition):
                flows.append(obj)
            elif isinstance(obj, TaskDefinition):
                tasks.append(obj)
            elif type(obj).__name__ == "ScheduleDefinition" and _is_schedule(obj):
                schedules.append(obj)
            elif type(obj).__name__ == "SensorDefinition":
                sensors.append(obj)
            elif type(obj).__name__ == "AssetTriggerDefinition":
                asset_triggers.append(obj)
        return cls(assets, flows, tasks, schedules, sensors=sensors,
                   asset_triggers=asset_triggers, source=source)

    def triggers(self) -> dict[str, Trigger]:
        """Every schedule, sensor and asset trigger, by trigger key (``schedule:nightly``,
        ``sensor:new_files``, ``asset_trigger:report``)."""
        found: dict[str, Trigger] = {}
        for group in (self.schedules, self.sensors, self.asset_triggers):
            for item in group.values():
                found[item.trigger_key] = item
        return found

    def flow(self, name: str) -> FlowDefinition[Any, Any]:
        try:
            return self.flows[name]
        except KeyError:
            raise DefinitionError(
                f"no flow named '{name}'{did_you_mean(name, self.flows)}",
                hint=f"defined flows: {', '.join(sorted(self.flows)) or 'none'}",
            ) from None

    def __repr__(self) -> str:
        schedules = f", {len(self.schedules)} schedules" if self.schedules else ""
        sensors = f", {len(self.sensors)} sensors" if self.sensors else ""
        triggers = f", {len(self.asset_triggers)} asset triggers" if self.asset_triggers else ""
        return (f"<Definitions {len(self.assets)} assets, {len(self.flows)} flows"
                f"{schedules}{sensors}{triggers}>")


def _automated(assets: dict[str, AssetDefinition[Any, Any]],
               flows: dict[str, FlowDefinition[Any, Any]], schedules: list[object]) -> bool:
    """Whether any partitions or schedules need checking (their modules load only then)."""
    return (bool(schedules) or any(f.schedule is not None for f in flows.values())
            or any(a.partitions is not None for a in assets.values()))


def _listed(items: object) -> list[object]:
    """``sensors=`` or ``asset_triggers=`` as a list (a lone item, even a wrong one, too)."""
    return [items] if isinstance(items, str) or not isinstance(items, Iterable) else list(items)


def _is_schedule(obj: object) -> bool:
    from legato.definitions.schedule import ScheduleDefinition

    return isinstance(obj, ScheduleDefinition)


D = TypeVar("D", AssetDefinition[Any, Any], FlowDefinition[Any, Any], TaskDefinition[Any, Any])


def _gather(kind: str, items: Iterable[D], cls: type[D], problems: list[Problem]) -> dict[str, D]:
    """Definitions of one kind by name; what is wrong goes to ``problems``."""
    table: dict[str, D] = {}
    if isinstance(items, str | AssetDefinition | FlowDefinition | TaskDefinition) or not isinstance(
        items, Iterable
    ):
        problems.append(
            Problem(
                f"Definitions({kind}s=...) takes a list of @lg.{kind} definitions, not {items!r}"
            )
        )
        return table
    for item in items:
        if not isinstance(item, cls):
            problems.append(
                Problem(
                    f"Definitions({kind}s=...) got {item!r}, which is not an "
                    f"@lg.{kind}; decorate the function with @lg.{kind}"
                )
            )
            continue
        name = item.key if isinstance(item, AssetDefinition) else item.name
        previous = table.get(name)
        if previous is not None and previous is not item:
            problems.append(
                Problem(
                    f"two {kind}s are named '{name}' (the other is at "
                    f"{previous.location}); rename one",
                    item.location.file,
                    item.location.line,
                )
            )
            continue
        table[name] = item
    return table
