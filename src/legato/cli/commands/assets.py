"""``legato assets [FILE.py]``: every asset and its latest materialization."""

from __future__ import annotations

from typing import Annotated

import typer

from legato.cli.options import JsonOption, ModuleOption


def assets(
    file: Annotated[
        str | None,
        typer.Argument(metavar="FILE.py", show_default=False,
                       help="The definitions file (default: -m MODULE, else the "
                       "definitions setting, else the definitions recorded in the "
                       "store)."),
    ] = None,
    module: ModuleOption = None,
    json: JsonOption = False,
) -> None:
    """List assets and their latest materialization.

    When (and how long ago), by which run, how many rows, and the data version; assets
    never materialized are listed as such; for partitioned assets, how many partitions
    were materialized. Without definitions, lists the assets of the definitions recorded
    in the store by the last run, worker or scheduler (without importing them), and any
    other asset the store materialized.
    """
    from legato.cli.errors import CommandLineError
    from legato.cli.locate import definitions_target, load_project
    from legato.cli.render import assets_table, make_console, print_json
    from legato.quick_settings import read_settings
    from legato.services.assets import list_assets

    if file is not None and not file.endswith(".py"):
        raise CommandLineError(f"'{file}' is not a definitions file (a .py file)",
                               hint="legato assets [FILE.py] or legato assets -m pkg.module")
    settings = read_settings()
    defs = (load_project(file, module, settings, "assets")
            if definitions_target(file, module, settings) is not None else None)
    found = list_assets(settings, defs)
    if json:
        print_json(found)
        return
    console = make_console()
    if not found:
        console.print("no assets defined" if defs is not None else
                      "no assets recorded yet (run or materialize once, or name the "
                      "definitions)")
        return
    console.print(assets_table(found))
