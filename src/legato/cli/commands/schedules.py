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
    from legato.services.triggers import list_triggers

    found = list_triggers(settings, _load(settings, file, module), now=now, count=count)
    if json:
        print_json(found)
        return
    console = make_console()
    if not found:
        console.print("no schedules defined (write @lg.flow(schedule=lg.cron(...)), "
                      "lg.schedule(...), @lg.sensor(...) or lg.on_materialized(...))")
        return
    console.print(schedules_table(found))


def _pause(settings: Settings, file: str | None, module: str | None, name: str, *,
           paused: bool, json: bool) -> None:
    """Pause or resume the trigger of that name; a key (``sensor:x``) is taken as it is
    when no definitions are named."""
    from legato.cli.locate import definitions_target
    from legato.cli.render import make_console, print_json
    from legato.services.triggers import is_trigger_key, set_paused

    as_key = is_trigger_key(name) and definitions_target(file, module, settings) is None
    changed = set_paused(settings, name, paused,
                         definitions=None if as_key else _load(settings, file, module))
    if json:
        print_json(changed)
        return
    what = "paused: it requests no runs until resumed" if paused else (
        "resumed: it goes on from its next tick")
    make_console().print(f"{changed.trigger_key} {what}")
