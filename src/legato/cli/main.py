"""The ``legato`` application: global options and the list of commands.

Importing this module stays cheap: each command imports the core (SQLAlchemy, the engine,
the user's definitions) only when it runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from legato.cli.commands import (
    assets,
    backfill,
    backfills,
    init,
    logs,
    materialize,
    resume,
    run,
    runs,
    scheduler,
    schedules,
    serve,
    show,
    trigger,
    worker,
)
from legato.cli.errors import LegatoGroup

app = typer.Typer(
    name="legato",
    cls=LegatoGroup,
    help="legato: run data and AI pipelines, and see what they did.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from legato import __version__

        typer.echo(f"legato {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True,
                     help="Print legato's version and exit."),
    ] = False,
) -> None:
    """legato: run data and AI pipelines, and see what they did."""


app.command("init")(init.init)
app.command("run")(run.run)
app.command("materialize")(materialize.materialize)
app.command("resume")(resume.resume)
app.command("runs")(runs.runs)
app.command("show")(show.show)
app.command("logs")(logs.logs)
app.command("assets")(assets.assets)
app.command("backfill")(backfill.backfill)
app.add_typer(backfills.app, name="backfills")
app.command("serve")(serve.serve)
app.command("schedules")(schedules.schedules)
app.command("scheduler")(scheduler.scheduler)
app.command("trigger")(trigger.trigger)
app.command("worker")(worker.worker)


def main() -> None:
    """The console script ``legato``."""
    app(prog_name="legato")


if __name__ == "__main__":
    main()
