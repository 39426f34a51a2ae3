"""``legato trigger [FILE.py] FLOW``: queue a run for a worker (``legato worker``)."""

from __future__ import annotations

from typing import Annotated

import typer

from legato.cli.errors import CommandLineError
from legato.cli.locate import load_project, split_file
from legato.cli.options import FileArgument, JsonOption, ModuleOption, ParamOption
from legato.cli.params import check_idempotency_key, parse_params


def trigger(
    file: FileArgument = None,
    flow: Annotated[
        str | None,
        typer.Argument(metavar="FLOW", show_default=False,
                       help="The flow to queue a run of (or a task, run as a one-step flow)."),
    ] = None,
    *,
    module: ModuleOption = None,
    param: ParamOption = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option("--idempotency-key", metavar="KEY",
                     help="Queue at most once: if a run was already requested with this key, "
                     "report that run instead of queuing another."),
    ] = None,
    priority: Annotated[
        int, typer.Option("--priority", metavar="N",
                          help="Runs with a higher priority are claimed first.")
    ] = 0,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="TAG",
                     help="A run tag, counted against the run_concurrency limits; repeat for "
                     "several (a flow's runs also carry flow:<name>)."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Queue a run of a flow for a worker to execute, and print its run id.

    The parameters are checked against the flow now; a worker (legato worker) claims the run
    and loads the flow again from the same file or module.

    Example: legato trigger pipelines.py nightly --param day=2024-05-01 --priority 5
    """
    from legato.cli.commands.run import _report_duplicate, _runnable
    from legato.cli.render import make_console, print_json
    from legato.services.queue import queue_run
    from legato.settings import load_settings

    file, names = split_file(file, [flow] if flow else [])
    if len(names) != 1:
        got = "no flow name" if not names else f"{len(names)} names ({' '.join(names)})"
        raise CommandLineError(f"legato trigger takes one flow name, got {got}",
                               hint="legato trigger [FILE.py] FLOW [--param key=value ...]")
    settings = load_settings()
    defs = load_project(file, module, settings, "trigger")
    chosen = _runnable(defs, names[0])
    params = parse_params(param, chosen.fn, what=f"flow '{chosen.name}'")
    check_idempotency_key(idempotency_key)
    if idempotency_key is not None and not json:
        _report_duplicate(settings, idempotency_key)
    queued = queue_run(settings, chosen, params, idempotency_key=idempotency_key,
                       priority=priority, tags=tag or (), source=defs.source)
    if json:
        print_json(queued)
        return
    console = make_console()
    console.print(f"queued run {queued.run_id} of flow '{chosen.name}'", markup=False,
                  soft_wrap=True)
    console.print(f"hint: a worker executes it (legato worker)  ·  legato show {queued.run_id}",
                  style="dim", markup=False, soft_wrap=True)
