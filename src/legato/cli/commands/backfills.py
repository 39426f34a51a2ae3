"""``legato backfills``: the backfills, newest first; ``legato backfills status|cancel|resume
ID`` for one. Starting a backfill is ``legato backfill SELECTION`` (as ``legato run`` starts
a run and ``legato runs`` lists them): its arguments are asset names, so no word is taken
from them here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from legato.cli.options import JsonOption, ModuleOption

if TYPE_CHECKING:
    from legato.settings import Settings

app = typer.Typer(
    name="backfills",
    invoke_without_command=True,
    no_args_is_help=False,
    subcommand_metavar="[status|cancel|resume ID]",
)

BackfillId = Annotated[
    str,
    typer.Argument(metavar="ID", show_default=False,
                   help="The backfill: its id, a unique prefix of it, or 'last'."),
]


@app.callback()
def backfills(
    ctx: typer.Context,
    *,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, metavar="N",
                          help="Show at most this many backfills.")
    ] = 20,
    json: JsonOption = False,
) -> None:
    """List backfills, newest first, with their progress; or show, cancel or resume one.

    Start one with legato backfill SELECTION --from KEY --to KEY.

    Examples: legato backfills; legato backfills status last --json;
    legato backfills cancel 1a1fd757; legato backfills resume 1a1fd757
    """
    if ctx.invoked_subcommand is None:
        from legato.settings import load_settings

        _show(load_settings(), None, json, limit=limit)


@app.command("status")
def status(backfill_id: BackfillId, *, json: JsonOption = False) -> None:
    """One backfill: its progress, its error, and the partitions that failed (--json: the
    counts, cursor and failed partitions)."""
    from legato.settings import load_settings

    _show(load_settings(), backfill_id, json)


@app.command("cancel")
def cancel(backfill_id: BackfillId, *, json: JsonOption = False) -> None:
    """Cancel a backfill: its queued runs are canceled, running ones finish, and no more
    partitions are enqueued. Run its failed and canceled partitions again with legato
    backfill --rerun-failed ID."""
    from legato.cli.render import make_console, print_json
    from legato.services.backfills import cancel_backfill
    from legato.settings import load_settings

    canceled = cancel_backfill(load_settings(), backfill_id)
    if json:
        print_json(canceled)
        return
    console = make_console()
    if canceled.already_ended:
        console.print(f"backfill {canceled.backfill_id} had already ended ({canceled.status})")
        return
    n = canceled.canceled_runs
    console.print(f"backfill {canceled.backfill_id} canceled: {n} queued run"
                  f"{'s' if n != 1 else ''} canceled; running ones finish")


@app.command("resume")
def resume(backfill_id: BackfillId, *, module: ModuleOption = None) -> None:
    """Run a backfill that is still running (its command was stopped, or it was detached)
    here, with a live progress bar, until it ends; finished partitions never run again.
    Exits as legato backfill does: 0 when every partition succeeded, 1 when some failed,
    130 on Ctrl-C."""
    from legato.cli.commands.backfill import announce, drive
    from legato.cli.locate import definitions_target, load_project
    from legato.definitions.loader import load_from_source
    from legato.services.backfills import resumable_backfill
    from legato.settings import load_settings

    settings = load_settings()
    found = resumable_backfill(settings, backfill_id)
    if definitions_target(None, module, settings) is not None or not found.definitions:
        defs = load_project(None, module, settings, "backfill")
    else:
        defs = load_from_source(found.definitions)
    announce(found, False)
    raise typer.Exit(drive(settings, found, defs))


def _show(settings: Settings, backfill_id: str | None, json: bool, *, limit: int = 20) -> None:
    from rich.table import Table

    from legato.cli.render import ago, make_console, print_json, status_text
    from legato.services.backfills import get_backfill, list_backfills

    if backfill_id is not None:
        one = get_backfill(settings, backfill_id)
        if json:
            print_json(one)
            return
        rows = [one]
    else:
        rows = list_backfills(settings, limit=limit)
        if json:
            print_json(rows)
            return
    console = make_console()
    if not rows:
        console.print("no backfills yet (start one: legato backfill ASSET --from KEY --to KEY)")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("backfill", "target", "status", "done", "failed", "running", "queued",
                   "started"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.backfill_id, r.target, status_text(r.status),
                      f"{r.done:,}/{r.total:,}", str(r.failed), str(r.running),
                      str(r.queued), ago(r.created_at))
    console.print(table)
    if backfill_id is not None and rows[0].error:
        console.print(f"[red]{rows[0].error}[/]", soft_wrap=True)
    failed = list(rows[0].failed_partitions or ()) if backfill_id is not None else []
    if failed:
        console.print("failed partitions: " + ", ".join(failed[:20])
                      + (" ..." if len(failed) > 20 else ""), soft_wrap=True)
