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
    from legato.store.backfills import BackfillRecord
    from legato.store.sql_store import SqlStore

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
    from legato.settings import load_settings
    from legato.store.backfills import cancel_backfill, get_backfill
    from legato.store.sql_store import SqlStore

    settings = load_settings()
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        record = get_backfill(store, backfill_id)
        canceled = cancel_backfill(store, record.backfill_id, "canceled by the user")
        record = get_backfill(store, record.backfill_id)
    if json:
        print_json({"backfill_id": record.backfill_id, "status": str(record.status),
                    "canceled_runs": canceled or 0})
        return
    console = make_console()
    if canceled is None:
        console.print(f"backfill {record.backfill_id} had already ended ({record.status})")
        return
    console.print(f"backfill {record.backfill_id} canceled: {canceled} queued run"
                  f"{'s' if canceled != 1 else ''} canceled; running ones finish")


@app.command("resume")
def resume(backfill_id: BackfillId, *, module: ModuleOption = None) -> None:
    """Run a backfill that is still running (its command was stopped, or it was detached)
    here, with a live progress bar, until it ends; finished partitions never run again.
    Exits as legato backfill does: 0 when every partition succeeded, 1 when some failed,
    130 on Ctrl-C."""
    from legato.cli.commands.backfill import announce, drive
    from legato.cli.locate import definitions_target, load_project
    from legato.definitions.loader import load_from_source
    from legato.errors import PartitionError
    from legato.settings import load_settings
    from legato.store.backfills import BackfillStatus, get_backfill
    from legato.store.sql_store import SqlStore

    settings = load_settings()
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        record = get_backfill(store, backfill_id)
    if record.status != BackfillStatus.RUNNING:
        raise PartitionError(
            f"backfill {record.backfill_id} has ended ({record.status}): there is nothing "
            "to resume",
            hint=f"run its failed partitions again: legato backfill --rerun-failed "
            f"{record.backfill_id}" if record.status != BackfillStatus.COMPLETED
            else f"see legato backfills status {record.backfill_id}")
    source = record.spec.get("source")
    if definitions_target(None, module, settings) is not None or not source:
        defs = load_project(None, module, settings, "backfill")
    else:
        defs = load_from_source(source)
    announce(record, False)
    raise typer.Exit(drive(settings, record, defs))


def _show(settings: Settings, backfill_id: str | None, json: bool, *, limit: int = 20) -> None:
    from rich.table import Table

    from legato.cli.render import ago, make_console, print_json, status_text
    from legato.daemon.backfill import backfill_progress
    from legato.store.backfills import get_backfill, list_backfills
    from legato.store.sql_store import SqlStore

    with SqlStore(settings.store_url, durability=settings.durability) as store:
        records = ([get_backfill(store, backfill_id)] if backfill_id is not None
                   else list_backfills(store, limit=limit))
        rows = [(r, backfill_progress(store, r)) for r in records]
        failed = _failed_keys(store, records[0]) if backfill_id is not None and records else []
    if json:
        data = [{**p.to_json(), "target": r.target, "spec": r.spec,
                 "max_concurrent": r.max_concurrent, "cursor": r.cursor,
                 "created_at": r.created_at, "ended_at": r.ended_at} for r, p in rows]
        if backfill_id is not None:
            data[0]["failed_partitions"] = failed
        print_json(data[0] if backfill_id is not None else data)
        return
    console = make_console()
    if not rows:
        console.print("no backfills yet (start one: legato backfill ASSET --from KEY --to KEY)")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("backfill", "target", "status", "done", "failed", "running", "queued",
                   "started"):
        table.add_column(column)
    for r, p in rows:
        table.add_row(r.backfill_id, r.target, status_text(str(p.status)),
                      f"{p.done:,}/{p.total:,}", str(p.failed), str(p.running),
                      str(p.queued), ago(r.created_at))
    console.print(table)
    if backfill_id is not None and rows[0][1].error:
        console.print(f"[red]{rows[0][1].error}[/]", soft_wrap=True)
    if failed:
        console.print("failed partitions: " + ", ".join(failed[:20])
                      + (" ..." if len(failed) > 20 else ""), soft_wrap=True)


def _failed_keys(store: SqlStore, record: BackfillRecord) -> list[str]:
    from itertools import islice

    from legato.store.backfills import partitions_with_status

    return list(islice(partitions_with_status(store, record.backfill_id,
                                              ("failed", "canceled")), 1000))
