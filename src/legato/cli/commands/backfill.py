"""``legato backfill``: materialize a range of partitions, a few at a time; and
``legato backfill status|cancel|resume``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from legato.cli.errors import CommandLineError, ExitCode
from legato.cli.options import JsonOption, ModuleOption, ParamOption

if TYPE_CHECKING:
    from legato.daemon.backfill import BackfillProgress
    from legato.definitions.definitions import Definitions
    from legato.settings import Settings
    from legato.store.backfills import BackfillRecord
    from legato.store.sql_store import SqlStore

ACTIONS = ("status", "cancel", "resume")


def backfill(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[FILE.py] SELECTION... | status [ID] | cancel ID | resume ID",
            show_default=False,
            help="The partitioned assets to backfill ('name', '*name', 'name*'), or an "
            "action on a backfill: status (all, or one), cancel, resume.",
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
    survives a restart: run the same command again, or legato backfill resume ID, and it
    picks up where it was; finished partitions never run again. Ctrl-C stops this command
    and leaves the backfill to resume; legato backfill cancel ID cancels it (its queued
    runs; running ones finish). Exits 0 when every partition succeeded, 1 when some
    failed (rerun them with --rerun-failed ID), 130 on Ctrl-C.

    Examples: legato backfill events --from 2026-01-01 --to 2026-01-31;
    legato backfill '*report' --partitions eu,us; legato backfill status
    """
    from legato.settings import load_settings

    items = list(args or [])
    settings = load_settings()
    if items and items[0] in ACTIONS:
        action, rest = items[0], items[1:]
        _refuse_start_options(action, {
            "--from": first, "--to": last, "--partitions": partitions,
            "--max-concurrent": max_concurrent, "--rerun-failed": rerun_failed,
            "--yes": yes or None, "--detach": detach or None, "--param": param or None,
            "--module": module if action != "resume" else None})
        if len(rest) > 1:
            raise CommandLineError(f"legato backfill {action} takes one backfill id, not "
                                   f"{len(rest)} arguments", hint=f"legato backfill {action} ID")
        if action == "status":
            _status(settings, rest[0] if rest else None, json)
            return
        if not rest:
            raise CommandLineError(f"legato backfill {action} needs the id of a backfill",
                                   hint="list backfills with: legato backfill status")
        if action == "cancel":
            _cancel(settings, rest[0], json)
            return
        raise typer.Exit(_resume(settings, rest[0], module))
    raise typer.Exit(_start(settings, items, module=module, first=first, last=last,
                            partitions=partitions, max_concurrent=max_concurrent,
                            rerun_failed=rerun_failed, yes=yes, param=param, detach=detach))


def _refuse_start_options(action: str, given: dict[str, object]) -> None:
    """The options that choose and start a backfill mean nothing to an action on one:
    refused, rather than silently ignored (``status --from A --to B`` shows every
    partition, not that range)."""
    names = [name for name, value in given.items() if value is not None]
    if names:
        also = "; legato backfill status ID shows one backfill" if action == "status" else ""
        raise CommandLineError(
            f"legato backfill {action} does not take {', '.join(names)}: "
            f"{'it' if len(names) == 1 else 'they'} choose the partitions of a new backfill",
            hint=f"legato backfill {action}{' ID' if action != 'status' else ' [ID]'} (without "
            f"those options){also}; to run a range: legato backfill ASSET --from KEY --to KEY")


def _start(settings: Settings, items: list[str], *, module: str | None, first: str | None,
           last: str | None, partitions: str | None, max_concurrent: int | None,
           rerun_failed: str | None, yes: bool, param: list[str] | None,
           detach: bool = False) -> ExitCode:
    from legato.cli.locate import load_project, split_file
    from legato.cli.params import parse_params
    from legato.daemon.backfill import DEFAULT_MAX_CONCURRENT, plan_backfill, start_backfill
    from legato.daemon.backfill import rerun_failed as plan_rerun
    from legato.store.sql_store import SqlStore

    file, names = split_file(None, items)
    defs = load_project(file, module, settings, "backfill")
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        if rerun_failed is not None:
            if names or first or last or partitions:
                raise CommandLineError(
                    "--rerun-failed runs the failed partitions of an earlier backfill: give "
                    "no selection, range or partitions with it",
                    hint=f"legato backfill --rerun-failed {rerun_failed}")
            planned = plan_rerun(store, defs, rerun_failed, max_concurrent=max_concurrent,
                                 yes=yes)
        else:
            if not names:
                raise CommandLineError("name the partitioned assets to backfill",
                                       hint="legato backfill events --from KEY --to KEY")
            keys = ([k.strip() for k in partitions.split(",") if k.strip()]
                    if partitions is not None else None)
            planned = plan_backfill(defs, names, first=first, last=last, keys=keys,
                                    max_concurrent=max_concurrent or DEFAULT_MAX_CONCURRENT,
                                    params=parse_params(param), yes=yes)
        record, new = start_backfill(store, planned)
    _announce(record, new)
    if detach:
        from legato.cli.render import make_console

        make_console().print(
            f"detached: the scheduler of legato serve (or legato scheduler) plans it and "
            f"workers run it; follow it with legato backfill status {record.backfill_id}",
            style="dim", markup=False, soft_wrap=True)
        return ExitCode.OK
    return _drive(settings, record, defs)


def _announce(record: BackfillRecord, new: bool) -> None:
    from legato.cli.render import make_console

    spec = record.spec
    what = (f"{spec['first']} to {spec['last']}" if spec.get("first") is not None
            else ", ".join(spec.get("keys", [])[:5]) + (" ..." if record.total > 5 else ""))
    verb = "backfill" if new else "picking up backfill"
    make_console().print(
        f"{verb} [bold]{record.backfill_id}[/]: {record.total:,} partition"
        f"{'s' if record.total != 1 else ''} of {record.target} ({what}), "
        f"{record.max_concurrent} at a time", soft_wrap=True, highlight=False)


def _drive(settings: Settings, record: BackfillRecord, defs: Definitions) -> ExitCode:
    from legato.cli.backfill_progress import BackfillBar
    from legato.cli.render import make_console
    from legato.daemon.backfill_driver import drive_backfill

    console = make_console()
    started = time.monotonic()
    progress: BackfillProgress | None = None
    try:
        with BackfillBar(console, f"backfill {record.backfill_id}") as bar:
            progress = drive_backfill(settings, record.backfill_id, defs,
                                      on_progress=bar.update)
    except KeyboardInterrupt:
        console.print(f"stopped; the backfill goes on when resumed: legato backfill resume "
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


def _resume(settings: Settings, backfill_id: str, module: str | None) -> ExitCode:
    from legato.cli.locate import definitions_target, load_project
    from legato.definitions.loader import load_from_source
    from legato.errors import PartitionError
    from legato.store.backfills import BackfillStatus, get_backfill
    from legato.store.sql_store import SqlStore

    with SqlStore(settings.store_url, durability=settings.durability) as store:
        record = get_backfill(store, backfill_id)
    if record.status != BackfillStatus.RUNNING:
        raise PartitionError(
            f"backfill {record.backfill_id} has ended ({record.status}): there is nothing "
            "to resume",
            hint=f"run its failed partitions again: legato backfill --rerun-failed "
            f"{record.backfill_id}" if record.status != BackfillStatus.COMPLETED
            else f"see legato backfill status {record.backfill_id}")
    source = record.spec.get("source")
    if definitions_target(None, module, settings) is not None or not source:
        defs = load_project(None, module, settings, "backfill")
    else:
        defs = load_from_source(source)
    _announce(record, False)
    return _drive(settings, record, defs)


def _cancel(settings: Settings, backfill_id: str, json: bool) -> None:
    from legato.cli.render import make_console, print_json
    from legato.store.backfills import cancel_backfill, get_backfill
    from legato.store.sql_store import SqlStore

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


def _status(settings: Settings, backfill_id: str | None, json: bool) -> None:
    from rich.table import Table

    from legato.cli.render import ago, make_console, print_json, status_text
    from legato.daemon.backfill import backfill_progress
    from legato.store.backfills import get_backfill, list_backfills
    from legato.store.sql_store import SqlStore

    with SqlStore(settings.store_url, durability=settings.durability) as store:
        records = ([get_backfill(store, backfill_id)] if backfill_id is not None
                   else list_backfills(store, limit=20))
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
