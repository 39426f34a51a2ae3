"""``legato show RUN``: one run and its steps."""

from __future__ import annotations

from typing import Annotated

import typer

from legato.cli.options import JsonOption, RunArgument


def show(
    run: RunArgument,
    json: JsonOption = False,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the whole traceback of every failed "
                           "step (by default: the last lines of the last one).")
    ] = False,
) -> None:
    """Show a run and its steps.

    The run's target, status, parameters and error; each step's status, attempts,
    duration, and its error (or why it was skipped, cached or fell back); then the
    traceback of the last failed step (its last lines; --traceback: all of it, for every
    failed step). Each attempt's outcome and output: legato logs RUN STEP.
    """
    from legato.cli.render import (
        make_console,
        print_json,
        run_header,
        steps_table,
        traceback_text,
    )
    from legato.quick_settings import read_settings
    from legato.services.runs import show_run

    detail = show_run(read_settings(), run)
    if json:
        print_json(detail)
        return
    console = make_console()
    console.print(run_header(detail.run))
    console.print()
    if detail.steps:
        console.print(steps_table(detail.steps))
    else:
        console.print("no steps", style="dim")
    failed = [s for s in detail.steps if s.status in ("failed", "fallback") and s.traceback]
    for step in failed if traceback else failed[-1:]:
        console.print()
        console.print(traceback_text(step, full=traceback), soft_wrap=True)
