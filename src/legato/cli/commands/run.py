"""``legato run [FILE.py] FLOW``: run a flow (or a single task) now, in this process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from legato.cli.errors import CommandLineError
from legato.cli.locate import load_project, split_file
from legato.cli.options import (
    ExecutorOption,
    FileArgument,
    MaxParallelOption,
    ModuleOption,
    ParamOption,
)
from legato.cli.params import check_idempotency_key, parse_params
from legato.errors import DefinitionError

if TYPE_CHECKING:
    from legato.definitions.definitions import Definitions
    from legato.definitions.flow import FlowDefinition
    from legato.definitions.task import TaskDefinition


def run(
    file: FileArgument = None,
    flow: Annotated[
        str | None,
        typer.Argument(metavar="FLOW", show_default=False,
                       help="The flow to run (or a task, run as a one-step flow)."),
    ] = None,
    *,
    module: ModuleOption = None,
    param: ParamOption = None,
    executor: ExecutorOption = None,
    max_parallel: MaxParallelOption = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option("--idempotency-key", metavar="KEY",
                     help="Submit at most once: if a run was already submitted with this key, "
                     "report that run (resumed first if its process died) instead of starting "
                     "another."),
    ] = None,
) -> None:
    """Run a flow, with a live view of its steps, and record it in the store.

    Exits 0 when the run succeeded, 1 when it failed, 130 when it was canceled (Ctrl-C).

    Example: legato run pipelines.py nightly --param day=2024-05-01
    """
    from legato.cli.execute import execute, settings_for

    file, names = split_file(file, [flow] if flow else [])
    if len(names) != 1:
        got = "no flow name" if not names else f"{len(names)} names ({' '.join(names)})"
        raise CommandLineError(f"legato run takes one flow name, got {got}",
                               hint="legato run [FILE.py] FLOW [--param key=value ...]")
    settings = settings_for(executor, max_parallel)
    defs = load_project(file, module, settings, "run")
    chosen = _runnable(defs, names[0])
    params = parse_params(param, chosen.fn, what=f"flow '{chosen.name}'")
    check_idempotency_key(idempotency_key)
    if idempotency_key is not None:
        _report_duplicate(settings, idempotency_key)
    from legato.services.execution import run_flow

    code = execute(settings, lambda observer: run_flow(
        settings, chosen, params, source=defs.source, idempotency_key=idempotency_key,
        observer=observer))
    raise typer.Exit(code)


def _report_duplicate(settings: Any, key: str) -> None:
    """Say so when the key was used before: the run shown is then that run."""
    from legato.cli.render import make_console
    from legato.services.runs import find_by_idempotency_key

    found = find_by_idempotency_key(settings, key)
    if found is not None:
        make_console().print(f"idempotency key '{key}' was submitted before: run "
                             f"{found.run_id} ({found.status})", style="dim", markup=False,
                             soft_wrap=True)


def _runnable(defs: Definitions, name: str) -> FlowDefinition[Any, Any] | TaskDefinition[
        Any, Any]:
    """The flow named ``name``, else a task of that name (run as a one-step flow)."""
    if name in defs.flows:
        return defs.flows[name]
    if name in defs.tasks:
        return defs.tasks[name]
    if name in defs.assets:
        raise DefinitionError(f"'{name}' is an asset, not a flow",
                              hint=f"materialize it: legato materialize {name}")
    return defs.flow(name)  # raises, with a did-you-mean and the defined flows
