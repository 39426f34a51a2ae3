"""``legato schedules [FILE.py]``: every schedule, with its next fire times.

Computed from the definitions alone: no store is opened. (Pausing and resuming, and the
last tick each schedule ran, come with the scheduler.)
"""

from __future__ import annotations

from typing import Annotated

import typer

from legato.cli.options import FileArgument, JsonOption, ModuleOption


def schedules(
    file: FileArgument = None,
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
    """List schedules and when they fire next.

    Each fire time is shown in the schedule's timezone and in UTC; its tick key (the
    UTC instant) is what makes each tick run at most once.
    """
    import datetime as dt

    from legato.cli.errors import CommandLineError
    from legato.cli.locate import load_project
    from legato.cli.render import make_console, print_json, schedules_table
    from legato.scheduler.ticks import next_ticks
    from legato.scheduler.timezones import UTC, parse_instant
    from legato.settings import load_settings

    if file is not None and not file.endswith(".py"):
        raise CommandLineError(f"'{file}' is not a definitions file (a .py file)",
                               hint="legato schedules [FILE.py] or legato schedules -m pkg.module")
    if after is None:
        now = dt.datetime.now(UTC)
    else:
        try:
            now = parse_instant(after)
        except ValueError:
            raise CommandLineError(
                f"--after {after!r} is not an instant",
                hint="write ISO 8601 with an offset, e.g. 2026-03-28T00:00:00Z") from None
    defs = load_project(file, module, load_settings(), "schedules")
    rows = []
    for name in sorted(defs.schedules):
        item = defs.schedules[name]
        cadence = item.spec.cadence
        ticks = next_ticks(cadence, now, count)
        rows.append({
            "name": name,
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
        })
    if json:
        print_json(rows)
        return
    console = make_console()
    if not rows:
        console.print("no schedules defined (write @lg.flow(schedule=lg.cron(...)) or "
                      "lg.schedule(...))")
        return
    console.print(schedules_table(defs.schedules, rows))
