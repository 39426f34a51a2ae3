"""Asset-event triggers: run a flow or an asset selection when upstream assets materialized.

::

    report_after_loads = lg.on_materialized("orders", "customers", run=report, mode="all")
    refresh = lg.on_materialized(events, run="features*", name="refresh_features")

``mode="any"`` runs when any of the upstream assets has a new materialization; ``"all"``
waits until every one of them has one (like Airflow's asset-aware scheduling, and
Dagster's eager automation). Several materializations seen at once make one run.

The cursor is, per upstream asset, the newest materialization the trigger has consumed;
the first evaluation only records what exists (like a schedule, which starts with the
ticks after it was first seen). A run's tick key is derived from the materialization ids
that trigger it, so the same materializations never make two runs, whichever scheduler
evaluates them. The scheduler reads the newest materialization ids and passes them in:
evaluating is pure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from legato.definitions.flow import FlowDefinition
from legato.definitions.source import SourceLocation, caller_location
from legato.definitions.validation import require_name
from legato.errors import DefinitionError, Problem
from legato.scheduler.targets import asset_keys, describe_target, run_target
from legato.scheduler.timezones import require_aware
from legato.scheduler.trigger import Evaluation, RunRequest

Mode = Literal["any", "all"]
MODES: tuple[Mode, ...] = ("any", "all")


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetTriggerDefinition:
    """Runs ``flow`` (or the asset ``selection``) when ``upstream`` assets materialized:
    ``any`` of them, or ``all``."""

    name: str
    upstream: tuple[str, ...]
    mode: Mode = "any"
    flow: str | None = None
    selection: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    description: str | None = None
    location: SourceLocation = field(default=SourceLocation(None, None), compare=False)

    @property
    def trigger_key(self) -> str:
        return f"asset_trigger:{self.name}"

    @property
    def target(self) -> str:
        return describe_target(self.flow, self.selection)

    def describe(self) -> str:
        joined = ", ".join(self.upstream)
        if len(self.upstream) == 1:
            return f"when {joined} materializes"
        return f"when {'any' if self.mode == 'any' else 'all'} of {joined} materialized"

    def evaluate(self, cursor: str | None, now: dt.datetime, *,
                 materializations: Mapping[str, str] | None = None) -> Evaluation:
        """A run if the newest ``materializations`` (asset key -> materialization id) of
        the upstream assets are new since the cursor, as ``mode`` requires."""
        require_aware(now, "now")
        if materializations is None:  # nothing known: nothing to do
            return Evaluation((), cursor)
        newest = {key: materializations.get(key) for key in self.upstream}
        if cursor is None:
            return Evaluation((), write_cursor(newest))
        seen = read_cursor(cursor)
        fresh = {key: mid for key, mid in newest.items()
                 if mid is not None and mid != seen.get(key)}
        due = bool(fresh) if self.mode == "any" else len(fresh) == len(self.upstream)
        if not due:
            return Evaluation((), cursor)
        request = RunRequest(trigger_key=self.trigger_key, tick_key=event_key(fresh),
                             flow=self.flow, selection=self.selection,
                             params=dict(self.params), scheduled_at=now)
        return Evaluation((request,), write_cursor({**seen, **newest}))

    def next_evaluation(self, cursor: str | None, now: dt.datetime) -> dt.datetime | None:
        """Materializations can come at any time: look on every pass of the loop."""
        return require_aware(now, "now")

    def __repr__(self) -> str:
        return f"<asset trigger {self.name}: {self.target}, {self.describe()}>"


def event_key(fresh: Mapping[str, str]) -> str:
    """The tick key of the materializations that trigger a run: the same ones, the same
    key (a digest: materialization ids are long)."""
    text = json.dumps(sorted(fresh.items()), separators=(",", ":"))
    return "m-" + hashlib.sha256(text.encode()).hexdigest()[:24]


def read_cursor(cursor: str) -> dict[str, str | None]:
    data = json.loads(cursor)
    return {str(k): (str(v) if v is not None else None) for k, v in data.items()}


def write_cursor(seen: Mapping[str, str | None]) -> str:
    return json.dumps(dict(sorted(seen.items())), separators=(",", ":"))


def on_materialized(
    *upstream: object,
    run: object,
    mode: Mode = "any",
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> AssetTriggerDefinition:
    """Run ``run`` (an ``@lg.flow``, or an asset selection such as ``"features*"``) when
    the ``upstream`` assets (names or ``@lg.asset`` definitions) have materialized: ``any``
    of them, or ``all`` of them since the last run.

    ``name`` is the trigger's identity in the store (pausing, its history); it defaults to
    the flow's name and is required for asset selections. Give the result to
    ``lg.Definitions(asset_triggers=[...])`` or leave it in the module's globals.
    """
    where = caller_location()
    try:
        return _build(upstream, run, mode, name, params=params, description=description,
                      where=where)
    except ValueError as error:
        raise DefinitionError([Problem(f"lg.on_materialized: {error}", where.file,
                                       where.line)]) from None


def _build(upstream: tuple[object, ...], run: object, mode: Mode, name: str | None, *,
           params: object, description: str | None, where: SourceLocation
           ) -> AssetTriggerDefinition:
    if not upstream:
        raise ValueError("name the upstream assets whose materializations trigger runs: "
                         "lg.on_materialized('orders', run=report)")
    keys = asset_keys(list(upstream), "the upstream")
    if any(not key.replace("_", "a").replace("-", "a").replace(".", "a").isalnum()
           for key in keys):
        raise ValueError(f"the upstream are asset keys, not selection patterns: {keys!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be 'any' or 'all', not {mode!r}")
    flow = run if isinstance(run, FlowDefinition) else None
    flow_name, selection = run_target(flow, None if flow else run, "lg.on_materialized")
    if name is None:
        if flow_name is None:
            raise ValueError(f"a trigger of assets needs a name: lg.on_materialized(..., "
                             f"run={run!r}, name='refresh_features'); it is the trigger's "
                             "identity in the store")
        name = flow_name
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, not {name!r}")
    if params is not None and (not isinstance(params, Mapping)
                               or not all(isinstance(k, str) for k in params)):
        raise ValueError(f"params must be a dict of parameter names to values, not {params!r}")
    return AssetTriggerDefinition(
        name=require_name("trigger", name, where), upstream=keys, mode=mode, flow=flow_name,
        selection=selection, params=dict(params or {}), description=description,
        location=where)
