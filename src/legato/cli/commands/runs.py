"""``legato runs``: the latest runs, newest first, with filters."""

from __future__ import annotations

import datetime as dt
import re
import time
from enum import StrEnum
from typing import Annotated

import typer

from legato.cli.errors import CommandLineError
from legato.cli.options import JsonOption

_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


class RunStatusChoice(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


def runs(
    *,
    status: Annotated[
        RunStatusChoice | None, typer.Option("--status", "-s", help="Only runs in this state.")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", metavar="NAME",
                     help="Only runs of this flow, or runs that built this asset."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="AGE",
                     help="Only runs started within this age (30m, 12h, 1d, 2w, 1h30m) or "
                     "since this ISO date (2024-05-01)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, metavar="N", help="Show at most this many runs.")
    ] = 20,
    queued: Annotated[
        bool, typer.Option("--queued", "-q",
                           help="Show the queue instead: the runs waiting for a worker, in the "
                           "order workers claim them (priority, then age), with their tags."),
    ] = False,
    json: JsonOption = False,
) -> None:
    """List runs, newest first (or the queue, with --queued)."""
    from legato.cli.render import make_console, print_json, queue_table, runs_table
    from legato.quick_settings import read_settings

    settings = read_settings()
    not_before = parse_since(since) if since is not None else None
    if queued:
        from legato.services.queue import queued_runs

        if status is not None and status is not RunStatusChoice.QUEUED:
            raise CommandLineError(
                f"--queued shows the runs waiting for a worker, so --status {status.value} "
                "matches none of them",
                hint=f"legato runs --status {status.value} (without --queued)")
        waiting = queued_runs(settings, target=target or None, since=not_before, limit=limit)
        if json:
            print_json(waiting)
        elif waiting:
            make_console().print(queue_table(waiting))
        elif target or since:
            make_console().print("no queued runs match these filters")
        else:
            make_console().print("the queue is empty: queue a run with legato trigger")
        return
    from legato.services.runs import list_runs

    found = list_runs(settings, status=status.value if status else None, target=target,
                      since=not_before, limit=limit)
    if json:
        print_json(found)
        return
    console = make_console()
    if not found:
        console.print("no runs" + (" match these filters" if status or target or since
                                   else " yet: start one with legato run or legato materialize"))
        return
    console.print(runs_table(found))


def parse_since(text: str, now: float | None = None) -> float:
    """A timestamp from an age (``1d``, ``1h30m``) or an ISO date or time."""
    now = time.time() if now is None else now
    compact = text.replace(" ", "").lower()
    if compact and _AGE.sub("", compact) == "":
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _AGE.findall(compact))
        return now - seconds
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandLineError(f"--since {text!r} is neither an age nor a date",
                               hint="e.g. --since 30m, --since 1d, --since 2024-05-01") from None
    if when.tzinfo is None:
        when = when.astimezone()
    return when.timestamp()
