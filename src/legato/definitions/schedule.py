"""Schedules: a flow or an asset selection, started at the ticks of a cron or interval.

Two ways to write one, one object in the end:

- ``@lg.flow(schedule=lg.cron("0 3 * * *", tz="Europe/Berlin"))``: a schedule named after
  the flow, which ``lg.Definitions`` makes;
- ``lg.schedule("*model", lg.cron("0 3 * * *"), name="nightly_model")``: an asset
  selection (or a flow, for a second schedule with other parameters), given to
  ``lg.Definitions(schedules=[...])`` or left in the module's globals.

A schedule is a trigger (``legato.scheduler.trigger``): ``evaluate`` turns the ticks due
at an instant into run requests, pure arithmetic on its cursor and the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from legato.definitions.asset import AssetDefinition
from legato.definitions.flow import FlowDefinition, schedule_fills, schedule_problem
from legato.definitions.source import SourceLocation, caller_location
from legato.definitions.validation import require_name
from legato.errors import DefinitionError, Problem
from legato.scheduler.catch_up import DEFAULT_GRACE, due_ticks
from legato.scheduler.logical import logical_time
from legato.scheduler.partitions import Partitions
from legato.scheduler.spec import ScheduleSpec
from legato.scheduler.ticks import Tick
from legato.scheduler.time_partitions import TimePartitions
from legato.scheduler.timezones import parse_instant, require_aware, tick_key
from legato.scheduler.trigger import Evaluation, RunRequest

SelectionItem = str | AssetDefinition[Any, Any]
_NOWHERE = SourceLocation(None, None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleDefinition:
    """A schedule: what it runs (``flow``, or an asset ``selection``) and when (``spec``).

    ``partitions`` is set by ``lg.Definitions`` when the selection holds time-partitioned
    assets: each tick then runs the newest partition whose window has ended.
    """

    name: str
    spec: ScheduleSpec
    flow: str | None = None
    selection: tuple[str, ...] = ()
    description: str | None = None
    location: SourceLocation = _NOWHERE
    partitions: Partitions | None = None
    fills: tuple[str, ...] = ()
    """The flow's parameters that each run gets from its tick (``scheduled_at``,
    ``data_interval_start``, ``data_interval_end``, ``ds``: ``scheduler/logical.py``)."""

    @property
    def trigger_key(self) -> str:
        return f"schedule:{self.name}"

    @property
    def target(self) -> str:
        """``flow nightly`` or ``assets *model, report``."""
        return f"flow {self.flow}" if self.flow else f"assets {', '.join(self.selection)}"

    def evaluate(self, cursor: str | None, now: dt.datetime, *,
                 grace: dt.timedelta = DEFAULT_GRACE) -> Evaluation:
        """The runs due at ``now``; ``cursor`` is what the previous evaluation returned."""
        last = parse_instant(cursor) if cursor else None
        due = due_ticks(self.spec.cadence, self.spec.catch_up, last, now, grace=grace)
        requests = [self.run_request(tick) for tick in due.run]
        return Evaluation(tuple(r for r in requests if r is not None), tick_key(due.cursor),
                          (due.skipped,) if due.skipped else ())

    def next_evaluation(self, cursor: str | None, now: dt.datetime) -> dt.datetime | None:
        after = require_aware(now, "now")
        if cursor:
            after = max(after, parse_instant(cursor))
        return self.spec.cadence.next_after(after)

    def run_request(self, tick: Tick) -> RunRequest | None:
        """The run of ``tick``; None when it has no partition to run (before the first
        window ended, or after the last one)."""
        partition_key = None
        if isinstance(self.partitions, TimePartitions):
            partition_key = self.partitions.last_complete(tick.at)
            if partition_key is None:
                return None
        logical = logical_time(self.spec.cadence, tick.at)
        filled = logical.params()
        params = {**{name: filled[name] for name in self.fills}, **self.spec.params}
        return RunRequest(trigger_key=self.trigger_key, tick_key=tick.key, flow=self.flow,
                          selection=self.selection, params=params,
                          partition_key=partition_key, scheduled_at=tick.at, logical=logical)

    def __repr__(self) -> str:
        return f"<schedule {self.name}: {self.target}, {self.spec.describe()}>"


def schedule(
    target: FlowDefinition[..., Any] | SelectionItem | Iterable[SelectionItem],
    spec: ScheduleSpec,
    *,
    name: str | None = None,
    description: str | None = None,
) -> ScheduleDefinition:
    """Schedule a flow, or an asset selection (``"*model"``: model and all upstream).

    ``name`` is the schedule's identity in the store (pausing, its history); it defaults
    to the flow's name and is required for asset selections.
    """
    where = caller_location()
    try:
        return _build(target, spec, name, description, where)
    except ValueError as error:
        raise DefinitionError([Problem(f"lg.schedule: {error}", where.file, where.line)]) from None


def _build(target: object, spec: object, name: str | None, description: str | None,
           where: SourceLocation) -> ScheduleDefinition:
    if isinstance(target, FlowDefinition):
        problem = schedule_problem(spec, target.fn)
        if problem:
            raise ValueError(f"flow '{target.name}': {problem}")
        assert isinstance(spec, ScheduleSpec)
        return ScheduleDefinition(name=_name(name or target.name, where), spec=spec,
                                  flow=target.name, description=description, location=where,
                                  fills=schedule_fills(spec, target.fn))
    selection = _selection(target)
    if not isinstance(spec, ScheduleSpec):
        raise ValueError(f"the second argument must be lg.cron(...) or lg.every(...), "
                         f"not {spec!r}")
    if name is None:
        raise ValueError(f"a schedule of assets needs a name: lg.schedule({target!r}, ..., "
                         "name='nightly_models'); it is the schedule's identity in the store")
    return ScheduleDefinition(name=_name(name, where), spec=spec, selection=selection,
                              description=description, location=where)


def _selection(target: object) -> tuple[str, ...]:
    items: list[object] = ([target] if isinstance(target, str | AssetDefinition)
                           else list(target) if isinstance(target, Iterable) else [target])
    keys: list[str] = []
    for item in items:
        if isinstance(item, AssetDefinition):
            keys.append(item.key)
        elif isinstance(item, str) and item.strip():
            keys.append(item.strip())
        else:
            raise ValueError(f"a schedule runs a flow or an asset selection ('name', '*name', "
                             f"'name*', '*'), not {item!r}")
    if not keys:
        raise ValueError("the asset selection is empty: name at least one asset, or '*'")
    return tuple(keys)


def _name(name: object, where: SourceLocation) -> str:
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, not {name!r}")
    return require_name("schedule", name, where)
