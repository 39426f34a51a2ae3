"""Schedules, sensors and asset-event triggers: list them with their next ticks and
state, pause and resume one, read their ticks.

Fire times come from the definitions alone; the state (paused, last tick) from the store,
when it exists (listing never creates one).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from legato.errors import LegatoError
from legato.services.connect import StoreSource, store_exists, writing
from legato.services.views.triggers import (
    CatchUpView,
    TickTimeView,
    TickView,
    TriggerStateView,
    TriggerView,
)

if TYPE_CHECKING:
    from legato.definitions.definitions import Definitions
    from legato.store.triggers import TickRecord, TriggerState

TRIGGER_KINDS = ("schedule", "sensor", "asset_trigger")


def tick_view(tick: TickRecord) -> TickView:
    return TickView(tick_key=tick.tick_key, at=tick.at, status=tick.status,
                    run_id=tick.run_id, detail=tick.detail)


def list_triggers(source: StoreSource, definitions: Definitions, *,
                  now: dt.datetime | None = None, count: int = 1) -> list[TriggerView]:
    """Every schedule, sensor and asset trigger (in that order, each sorted by name), with
    its next ``count`` ticks after ``now`` and its state in the store."""
    from legato.scheduler.ticks import next_ticks
    from legato.scheduler.timezones import UTC

    now = dt.datetime.now(UTC) if now is None else now
    states, last = _state(source)

    def state(key: str) -> dict[str, Any]:
        found, tick = states.get(key), last.get(key)
        return {"paused": bool(found and found.paused),
                "last_error": (found.last_error.splitlines()[0]
                               if found and found.last_error else None),
                "last_tick": None if tick is None else tick_view(tick)}

    empty: dict[str, Any] = {"cron": None, "interval_seconds": None, "timezone": None,
                             "catch_up": None, "params": {}, "partitions": None,
                             "upstream": (), "mode": None, "timeout": None}
    views = []
    for name in sorted(definitions.schedules):
        item = definitions.schedules[name]
        cadence, policy = item.spec.cadence, item.spec.catch_up
        views.append(TriggerView(**{
            **empty, "name": name, "kind": "schedule", "trigger_key": item.trigger_key,
            "flow": item.flow or None, "selection": tuple(item.selection),
            "cadence": cadence.describe(), "cron": getattr(cadence, "expression", None),
            "interval_seconds": getattr(cadence, "seconds", None), "timezone": cadence.tz,
            "catch_up": CatchUpView(policy=policy.policy,
                                    limit=policy.limit if policy.policy == "all" else None),
            "params": dict(item.spec.params),
            "partitions": item.partitions.to_json() if item.partitions is not None else None,
            "next": tuple(TickTimeView(tick_key=t.key, at=t.at.isoformat(),
                                       local=cadence.local(t.at).isoformat())
                          for t in next_ticks(cadence, now, count)),
            **state(item.trigger_key)}))
    for name in sorted(definitions.sensors):
        sensor = definitions.sensors[name]
        views.append(TriggerView(**{
            **empty, "name": name, "kind": "sensor", "trigger_key": sensor.trigger_key,
            "flow": sensor.flow or None, "selection": tuple(sensor.selection),
            "cadence": sensor.describe(), "interval_seconds": sensor.interval,
            "timeout": sensor.timeout,
            "next": tuple(TickTimeView(tick_key=t.key, at=t.at.isoformat(),
                                       local=t.at.isoformat())
                          for t in next_ticks(sensor.cadence, now, count)),
            **state(sensor.trigger_key)}))
    for name in sorted(definitions.asset_triggers):
        trigger = definitions.asset_triggers[name]
        views.append(TriggerView(**{
            **empty, "name": name, "kind": "asset_trigger",
            "trigger_key": trigger.trigger_key, "flow": trigger.flow or None,
            "selection": tuple(trigger.selection), "cadence": trigger.describe(),
            "upstream": tuple(trigger.upstream), "mode": trigger.mode,
            "params": dict(trigger.params), "next": (), **state(trigger.trigger_key)}))
    return views


def _state(source: StoreSource) -> tuple[dict[str, TriggerState], dict[str, TickRecord]]:
    """The triggers' state and last ticks, from the store if there is one."""
    if not store_exists(source):
        return {}, {}
    from legato.store.triggers import last_ticks, read_triggers

    with writing(source) as store:
        return read_triggers(store), last_ticks(store)


def is_trigger_key(name: str) -> bool:
    """``sensor:new_files`` is a key; ``new_files`` is a name."""
    kind, _, rest = name.partition(":")
    return bool(rest) and kind in TRIGGER_KINDS


def trigger_key(definitions: Definitions | None, name: str) -> str:
    """The key of the trigger called ``name`` (or keyed so) in the definitions; without
    definitions, ``name`` must be a key, and is taken as it is."""
    if definitions is None:
        if not is_trigger_key(name):
            raise LegatoError(f"'{name}' is not a trigger key",
                              hint="name the definitions, or the trigger by its key, e.g. "
                              f"schedule:{name}")
        return name
    from legato.definitions.validation import did_you_mean

    triggers = definitions.triggers()
    if name in triggers:
        return name
    matches = [key for key in triggers if key.partition(":")[2] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise LegatoError(f"'{name}' names {len(matches)} triggers: "
                          f"{', '.join(sorted(matches))}",
                          hint=f"name one by its key, e.g. {sorted(matches)[0]}")
    names = sorted({key.partition(":")[2] for key in triggers})
    raise LegatoError(f"no schedule, sensor or asset trigger named '{name}'"
                      f"{did_you_mean(name, names)}",
                      hint=f"defined: {', '.join(names) or 'none'}")


def set_paused(source: StoreSource, name: str, paused: bool, *,
               definitions: Definitions | None = None) -> TriggerStateView:
    """Pause (or resume) a trigger, by name in the definitions or by key: a paused trigger
    requests no runs; it goes on from its next tick when resumed."""
    from legato.store.triggers import set_paused as write_paused

    key = trigger_key(definitions, name)
    with writing(source) as store:
        write_paused(store, key, paused)
    return TriggerStateView(trigger_key=key, paused=paused)


def list_ticks(source: StoreSource, trigger_key: str | None = None, *,
               limit: int = 20) -> list[TickView]:
    """The newest ticks of one trigger (by key), or of all, newest first."""
    if not store_exists(source):
        return []
    from legato.store.triggers import list_ticks as read_ticks

    with writing(source) as store:
        return [tick_view(tick) for tick in read_ticks(store, trigger_key, limit=limit)]
