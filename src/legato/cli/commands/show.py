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
    from legato.store.reader import open_reader

    settings = read_settings()
    with open_reader(settings.store_url, durability=settings.durability) as store:
        record = store.get_run(run)
        steps = store.get_steps(record.run_id)
    if json:
        print_json({"run": record, "steps": steps})
        return
    console = make_console()
    console.print(run_header(record))
    console.print()
    if steps:
        console.print(steps_table(steps))
    else:
        console.print("no steps", style="dim")
