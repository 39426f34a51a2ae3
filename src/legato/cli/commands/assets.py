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
                       "definitions setting, else the assets known to the store)."),
    ] = None,
    module: ModuleOption = None,
    json: JsonOption = False,
) -> None:
    """List assets and their latest materialization.

    When (and how long ago), by which run, how many rows, and the data version; assets
    never materialized are listed as such; for partitioned assets, how many partitions
    were materialized. Without definitions, lists the assets that
    the store knows.
    """
    from legato.cli.errors import CommandLineError
    from legato.cli.locate import definitions_target, load_project
    from legato.cli.render import assets_table, make_console, print_json
    from legato.quick_settings import read_settings
    from legato.store.reader import open_reader

    if file is not None and not file.endswith(".py"):
        raise CommandLineError(f"'{file}' is not a definitions file (a .py file)",
                               hint="legato assets [FILE.py] or legato assets -m pkg.module")
    settings = read_settings()
    defined: list[str] | None = None
    described: dict[str, str] = {}
    if definitions_target(file, module, settings) is not None:
        defs = load_project(file, module, settings, "assets")
        defined = list(defs.graph.sorted(defs.assets))
        described = {key: a.partitions.describe() for key, a in defs.assets.items()
                     if a.partitions is not None}
    with open_reader(settings.store_url, durability=settings.durability) as store:
        latest = store.latest_materializations()
        counts = store.partition_counts()
    keys = defined if defined is not None else sorted(latest)
    rows = [(key, latest.get(key)) for key in keys]
    if json:
        print_json([{"asset_key": key, "materialization": record,
                     **({"partitions": {"definition": described.get(key),
                                        "materialized": counts.get(key, 0)}}
                        if key in described or key in counts else {})}
                    for key, record in rows])
        return
    console = make_console()
    if not rows:
        console.print("no assets defined" if defined is not None else
                      "no assets materialized yet (name the definitions to list every asset)")
        return
    partitions = {key: f"{counts.get(key, 0):,}"
                  + (f" of {described[key]}" if key in described else " materialized")
                  for key in keys if key in described or key in counts}
    console.print(assets_table(rows, partitions))
