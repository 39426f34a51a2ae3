"""``legato materialize [FILE.py] [SELECTION ...]``: compute assets in dependency order."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from legato.cli.errors import CommandLineError
from legato.cli.locate import load_project, pasteable_hints, split_file
from legato.cli.options import (
    ExecutorOption,
    FileArgument,
    MaxParallelOption,
    ModuleOption,
    ParamOption,
)
from legato.cli.params import parse_params


def materialize(
    file: FileArgument = None,
    selection: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SELECTION", show_default=False,
            help="Assets to materialize: 'name', '*name' (with everything upstream), "
            "'name*' (with everything downstream); '*' or nothing for every asset.",
        ),
    ] = None,
    *,
    module: ModuleOption = None,
    param: ParamOption = None,
    executor: ExecutorOption = None,
    max_parallel: MaxParallelOption = None,
    partition: Annotated[
        str | None,
        typer.Option("--partition", metavar="KEY", show_default=False,
                     help="The partition the partitioned assets compute, e.g. 2026-01-05 "
                     "(ctx.partition_key); for many, use legato backfill."),
    ] = None,
) -> None:
    """Materialize assets in dependency order, with a live view, and record the run.

    Upstream assets outside the selection give their latest materialization (of the
    partitions mapped to --partition, for partitioned assets). Parameters reach each step
    as ctx.params. Exits 0 when every asset succeeded, 1 when one failed,
    was skipped or fell back to its last good value, 130 when canceled (Ctrl-C).

    Example: legato materialize '*report'; legato materialize events --partition 2026-01-05
    """
    from legato.cli.execute import execute, settings_for
    from legato.services.execution import materialize as run_materialize
    from legato.services.execution import select_assets

    file, names = split_file(file, selection)
    expanded = [name for name in names if "*" not in name and Path(name).exists()]
    if expanded:
        raise CommandLineError(
            f"'{expanded[0]}' is a file here, not an asset: did the shell expand a '*'?",
            hint="quote selections with a star: legato materialize '*' or '*report'",
        )
    settings = settings_for(executor, max_parallel)
    defs = load_project(file, module, settings, "materialize")
    keys = select_assets(defs, names, partition)  # a bad selection fails before a run
    params = parse_params(param)
    with pasteable_hints(file, module):
        code = execute(settings, lambda observer: run_materialize(
            settings, defs, keys, params=params, partition_key=partition,
            observer=observer))
    raise typer.Exit(code)
