"""``legato backfill SELECTION``: materialize a range of partitions, a few at a time.
Listing, cancelling and resuming backfills is ``legato backfills``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from legato.cli.errors import CommandLineError, ExitCode
from legato.cli.options import JsonOption, ModuleOption, ParamOption

if TYPE_CHECKING:
    from legato.definitions.definitions import Definitions
    from legato.services.views.backfills import BackfillProgressView, BackfillView
    from legato.settings import Settings

OLD_ACTIONS = ("status", "cancel", "resume")
"""The words ``legato backfill`` took for actions before ``legato backfills`` (now asset
names like any other)."""


def backfill(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[FILE.py] SELECTION...",
            show_default=False,
            help="The definitions file (without it: -m MODULE, else the definitions "
            "setting), then the partitioned assets to backfill ('name', '*name', 'name*').",
        ),
    ] = None,
    *,
    module: ModuleOption = None,
    first: Annotated[
        str | None,
        typer.Option("--from", metavar="KEY", show_default=False,
                     help="The first partition (default: the first one)."),
    ] = None,
    last: Annotated[
        str | None,
        typer.Option("--to", metavar="KEY", show_default=False,
                     help="The last partition, included (default: the last ended one)."),
    ] = None,
    partitions: Annotated[
        str | None,
        typer.Option("--partitions", metavar="K1,K2,...", show_default=False,
                     help="These partitions instead of a range."),
    ] = None,
    max_concurrent: Annotated[
        int | None,
        typer.Option("--max-concurrent", "-c", min=1, max=1000, metavar="N",
                     show_default=False,
                     help="Runs queued or running at once (default: 4)."),
    ] = None,
    rerun_failed: Annotated[
        str | None,
        typer.Option("--rerun-failed", metavar="BACKFILL", show_default=False,
                     help="Run again the partitions that failed in this earlier backfill."),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y",
                     help="Go ahead with more than 10,000 partitions."),
    ] = False,
    detach: Annotated[
        bool,
        typer.Option("--detach", "-d",
                     help="Only create the backfill, and leave it to legato serve (or a "
                     "scheduler and workers) to run."),
    ] = False,
    param: ParamOption = None,
    json: JsonOption = False,
) -> None:
    """Materialize many partitions: one run per partition, a few at a time, with a live
    progress bar.

    Its runs are queued in the store and executed here (and by any worker). A backfill
    survives a restart: run the same command again, or legato backfills resume ID, and it
    picks up where it was; finished partitions never run again. Ctrl-C stops this command
    and leaves the backfill to resume; legato backfills cancel ID cancels it (its queued
    runs; running ones finish); legato backfills lists them. Exits 0 when every partition
    succeeded, 1 when some failed (rerun them with --rerun-failed ID), 130 on Ctrl-C.

    Examples: legato backfill events --from 2026-01-01 --to 2026-01-31;
    legato backfill '*report' --partitions eu,us; legato backfills
    """
    from legato.settings import load_settings

    settings = load_settings()
    raise typer.Exit(_start(settings, list(args or []), module=module, first=first,
                            last=last, partitions=partitions, max_concurrent=max_concurrent,
                            rerun_failed=rerun_failed, yes=yes, param=param, detach=detach))


def _start(settings: Settings, items: list[str], *, module: str | None, first: str | None,
           last: str | None, partitions: str | None, max_concurrent: int | None,
           rerun_failed: str | None, yes: bool, param: list[str] | None,
           detach: bool = False) -> ExitCode:
    from legato.cli.locate import load_project, pasteable_hints, split_file
    from legato.cli.params import parse_params
    from legato.errors import LegatoError
    from legato.services.backfills import rerun_failed as start_rerun
    from legato.services.backfills import start_backfill

    file, names = split_file(None, items)
    try:
        defs = load_project(file, module, settings, "backfill")
    except LegatoError:
        if names and names[0] in OLD_ACTIONS:
            raise _moved(names) from None
        raise
    if names and names[0] in OLD_ACTIONS and names[0] not in defs.assets:
        raise _moved(names)
    if rerun_failed is not None:
        if names or first or last or partitions:
            raise CommandLineError(
                "--rerun-failed runs the failed partitions of an earlier backfill: give "
                "no selection, range or partitions with it",
                hint=f"legato backfill --rerun-failed {rerun_failed}")
        record, new = start_rerun(settings, defs, rerun_failed,
                                  max_concurrent=max_concurrent, yes=yes)
    else:
        if not names:
            raise CommandLineError("name the partitioned assets to backfill",
                                   hint="legato backfill events --from KEY --to KEY")
        keys = ([k.strip() for k in partitions.split(",") if k.strip()]
                if partitions is not None else None)
        with pasteable_hints(file, module):
            record, new = start_backfill(settings, defs, names, first=first, last=last,
                                         keys=keys, max_concurrent=max_concurrent,
                                         params=parse_params(param), yes=yes)
    announce(record, new)
    if detach:
        from legato.cli.render import make_console

        make_console().print(
            f"detached: the scheduler of legato serve (or legato scheduler) plans it and "
            f"workers run it; follow it with legato backfills status {record.backfill_id}",
            style="dim", markup=False, soft_wrap=True)
        return ExitCode.OK
    return drive(settings, record, defs)


def _moved(names: list[str]) -> CommandLineError:
    """``legato backfill status|cancel|resume`` where no asset has that name: the command
    that does it now (``legato backfill`` names only assets)."""
    action, rest = names[0], names[1:]
    listing = action == "status" and not rest
    instead = ("legato backfills" if listing
               else f"legato backfills {action} {' '.join(rest) or 'ID'}")
    return CommandLineError(
        f"there is no asset named '{action}' to backfill: legato backfill only starts "
        f"backfills, and legato backfills lists them and shows, cancels or resumes one",
        hint=f"did you mean: {instead}")


def announce(record: BackfillView, new: bool) -> None:
    from legato.cli.render import make_console

    what = (f"{record.first} to {record.last}" if record.first is not None
            else ", ".join((record.keys or ())[:5]) + (" ..." if record.total > 5 else ""))
    verb = "backfill" if new else "picking up backfill"
    make_console().print(
        f"{verb} [bold]{record.backfill_id}[/]: {record.total:,} partition"
        f"{'s' if record.total != 1 else ''} of {record.target} ({what}), "
        f"{record.max_concurrent} at a time", soft_wrap=True, highlight=False)


def drive(settings: Settings, record: BackfillView, defs: Definitions) -> ExitCode:
    from legato.cli.backfill_progress import BackfillBar
    from legato.cli.render import make_console
    from legato.services.backfills import drive_backfill

    console = make_console()
    started = time.monotonic()
    progress: BackfillProgressView | None = None
    try:
        with BackfillBar(console, f"backfill {record.backfill_id}") as bar:
            progress = drive_backfill(settings, record.backfill_id, defs,
                                      on_progress=bar.update)
    except KeyboardInterrupt:
        console.print(f"stopped; the backfill goes on when resumed: legato backfills resume "
                      f"{record.backfill_id}", soft_wrap=True, highlight=False)
        return ExitCode.CANCELED
    took = time.monotonic() - started
    style = {"completed": "green", "failed": "red"}.get(str(progress.status), "yellow")
    console.print(f"backfill {record.backfill_id} [{style}]{progress.status}[/]: "
                  f"{progress.succeeded:,} succeeded, {progress.failed:,} failed of "
                  f"{progress.total:,} in {took:.1f}s", soft_wrap=True, highlight=False)
    if progress.error:
        console.print(f"[red]{progress.error}[/]", soft_wrap=True, highlight=False)
    return ExitCode.OK if str(progress.status) == "completed" else ExitCode.RUN_FAILED
