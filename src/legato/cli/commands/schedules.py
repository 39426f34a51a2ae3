"""``legato schedules [FILE.py]``: every schedule, sensor and asset trigger, with its next
fire times, whether it is paused and its last tick; ``legato schedules pause NAME`` and
``resume NAME``.

Fire times come from the definitions alone; the state (paused, last tick) from the store,
when it exists (listing never creates one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from legato.cli.options import JsonOption, ModuleOption

if TYPE_CHECKING:
    from legato.definitions.definitions import Definitions
    from legato.settings import Settings
    from legato.store.triggers import TickRecord, TriggerState

ACTIONS = ("pause", "resume")


def schedules(
    args: Annotated[
        list[str] | None,
        typer.Argument(metavar="[FILE.py] [pause|resume NAME]", show_default=False,
                       help="The definitions file (without it: -m MODULE, else the "
                       "definitions setting); then, to pause or resume a trigger, the action "
                       "and its name (or its key, such as sensor:new_files).")
    ] = None,
    module: ModuleOption = None,
    count: Annotated[
        int, typer.Option("--next", "-n", min=1, max=1000, metavar="N",
                          help="How many fire times to show per schedule.")
    ] = 1,
    after: Annotated[
        str | None,
        typer.Option("--after", metavar="TIME",
                     help="Show the fire times after this instant instead of now: ISO 8601 "
                     "with an offset (2026-03-28T00:00:00Z, 2026-10-24T12:00+02:00).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """List schedules, sensors and asset triggers, or pause and resume one.

    Each fire time is shown in the schedule's timezone and in UTC; its tick key (the
    UTC instant) is what makes each tick run at most once. A paused trigger requests no
    runs: its ticks are recorded as skipped, and it goes on from the present when resumed.
    """
    import datetime as dt

    from legato.cli.errors import CommandLineError
    from legato.cli.locate import split_file
    from legato.scheduler.timezones import UTC, parse_instant
    from legato.settings import load_settings

    given = list(args or [])
    files = [arg for arg in given if arg.endswith(".py")]
    file, rest = split_file(None, given) if len(files) != 1 else (
        files[0], [arg for arg in given if arg != files[0]])
    settings = load_settings()
    if rest:
        if rest[0] not in ACTIONS or len(rest) != 2:
            raise CommandLineError(
                f"unexpected arguments: {' '.join(rest)}",
                hint="legato schedules [FILE.py] to list them, or legato schedules [FILE.py] "
                "pause|resume NAME")
        _pause(settings, file, module, rest[1], paused=rest[0] == "pause", json=json)
        return
    if after is None:
        now = dt.datetime.now(UTC)
    else:
        try:
            now = parse_instant(after)
        except ValueError:
            raise CommandLineError(
                f"--after {after!r} is not an instant",
                hint="write ISO 8601 with an offset, e.g. 2026-03-28T00:00:00Z") from None
    _list(settings, file, module, now, count=count, json=json)


def _load(settings: Settings, file: str | None, module: str | None) -> Definitions:
    from legato.cli.locate import load_project

    return load_project(file, module, settings, "schedules")


def _list(settings: Settings, file: str | None, module: str | None, now: Any, *, count: int,
          json: bool) -> None:
    from legato.cli.render import make_console, print_json, schedules_table
    from legato.scheduler.ticks import next_ticks

    defs = _load(settings, file, module)
    states, last = _state(settings)
    rows = []
    for name in sorted(defs.schedules):
        item = defs.schedules[name]
        cadence = item.spec.cadence
        ticks = next_ticks(cadence, now, count)
        rows.append({
            "name": name,
            "kind": "schedule",
            "trigger_key": item.trigger_key,
            "target": {"flow": item.flow} if item.flow else {"selection": list(item.selection)},
            "cadence": cadence.describe(),
            "cron": getattr(cadence, "expression", None),
            "interval_seconds": getattr(cadence, "seconds", None),
            "timezone": cadence.tz,
            "catch_up": {"policy": item.spec.catch_up.policy,
                         "limit": item.spec.catch_up.limit
                         if item.spec.catch_up.policy == "all" else None},
            "params": dict(item.spec.params),
            "partitions": item.partitions.to_json() if item.partitions is not None else None,
            "next": [{"tick_key": t.key, "at": t.at.isoformat(),
                      "local": cadence.local(t.at).isoformat()} for t in ticks],
            **_state_of(item.trigger_key, states, last),
        })
    for name in sorted(defs.sensors):
        sensor = defs.sensors[name]
        ticks = next_ticks(sensor.cadence, now, count)
        rows.append({
            "name": name, "kind": "sensor", "trigger_key": sensor.trigger_key,
            "target": _target(sensor.flow, sensor.selection), "cadence": sensor.describe(),
            "interval_seconds": sensor.interval, "timeout": sensor.timeout,
            "next": [{"tick_key": t.key, "at": t.at.isoformat(),
                      "local": t.at.isoformat()} for t in ticks],
            **_state_of(sensor.trigger_key, states, last),
        })
    for name in sorted(defs.asset_triggers):
        trigger = defs.asset_triggers[name]
        rows.append({
            "name": name, "kind": "asset_trigger", "trigger_key": trigger.trigger_key,
            "target": _target(trigger.flow, trigger.selection), "cadence": trigger.describe(),
            "upstream": list(trigger.upstream), "mode": trigger.mode,
            "params": dict(trigger.params), "next": [],
            **_state_of(trigger.trigger_key, states, last),
        })
    if json:
        print_json(rows)
        return
    console = make_console()
    if not rows:
        console.print("no schedules defined (write @lg.flow(schedule=lg.cron(...)), "
                      "lg.schedule(...), @lg.sensor(...) or lg.on_materialized(...))")
        return
    console.print(schedules_table(defs.schedules, rows))


def _target(flow: str | None, selection: tuple[str, ...]) -> dict[str, Any]:
    return {"flow": flow} if flow else {"selection": list(selection)}


def _state(settings: Settings) -> tuple[dict[str, TriggerState], dict[str, TickRecord]]:
    """The triggers' state and last ticks, from the store if there is one."""
    from legato.store.dialects import sqlite_path
    from legato.store.sql_store import SqlStore
    from legato.store.triggers import last_ticks, read_triggers

    path = sqlite_path(settings.store_url)
    if path is not None and not path.exists():
        return {}, {}
    with SqlStore(settings.store_url) as store:
        return read_triggers(store), last_ticks(store)


def _state_of(key: str, states: dict[str, TriggerState],
              last: dict[str, TickRecord]) -> dict[str, Any]:
    state, tick = states.get(key), last.get(key)
    return {
        "paused": bool(state and state.paused),
        "last_error": state.last_error.splitlines()[0] if state and state.last_error else None,
        "last_tick": None if tick is None else {
            "tick_key": tick.tick_key, "at": tick.at, "status": tick.status,
            "run_id": tick.run_id, "detail": tick.detail},
    }


def _pause(settings: Settings, file: str | None, module: str | None, name: str, *,
           paused: bool, json: bool) -> None:
    from legato.cli.render import make_console, print_json
    from legato.store.sql_store import SqlStore
    from legato.store.triggers import set_paused

    key = _trigger_key(settings, file, module, name)
    with SqlStore(settings.store_url) as store:
        set_paused(store, key, paused)
    if json:
        print_json({"trigger_key": key, "paused": paused})
        return
    what = "paused: it requests no runs until resumed" if paused else (
        "resumed: it goes on from its next tick")
    make_console().print(f"{key} {what}")


def _trigger_key(settings: Settings, file: str | None, module: str | None, name: str) -> str:
    """The key of the trigger called ``name``; a key (``sensor:x``) is taken as it is when
    no definitions are named."""
    from legato.cli.errors import CommandLineError
    from legato.cli.locate import definitions_target
    from legato.definitions.validation import did_you_mean

    kind, _, rest = name.partition(":")
    if rest and kind in ("schedule", "sensor", "asset_trigger") and \
            definitions_target(file, module, settings) is None:
        return name
    triggers = _load(settings, file, module).triggers()
    if name in triggers:
        return name
    matches = [key for key in triggers if key.partition(":")[2] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise CommandLineError(f"'{name}' names {len(matches)} triggers: "
                               f"{', '.join(sorted(matches))}",
                               hint=f"name one by its key, e.g. {sorted(matches)[0]}")
    names = sorted({key.partition(":")[2] for key in triggers})
    raise CommandLineError(f"no schedule, sensor or asset trigger named '{name}'"
                           f"{did_you_mean(name, names)}",
                           hint=f"defined: {', '.join(names) or 'none'}")
