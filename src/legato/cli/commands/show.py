"""``legato show RUN``: one run and its steps."""

from __future__ import annotations

from legato.cli.options import JsonOption, RunArgument


def show(run: RunArgument, json: JsonOption = False) -> None:
    """Show a run and its steps.

    The run's target, status, parameters and error; each step's status, attempts,
    duration, and its error (or why it was skipped, cached or fell back).
    """
    from legato.cli.render import make_console, print_json, run_header, steps_table
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
