"""``legato logs RUN [STEP]``: what the steps printed and logged, per attempt."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Annotated

import typer

from legato.cli.options import JsonOption, RunArgument

if TYPE_CHECKING:
    from legato.services.views.steps import LogLineView


def logs(
    run: RunArgument,
    step: Annotated[
        str | None,
        typer.Argument(metavar="STEP", show_default=False,
                       help="Only this step's logs (its step key, as legato show lists it)."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Show the logs of a run's steps (stdout, stderr and logging), per step and attempt.

    Each attempt starts with how it ended (attempt 2/4 failed after 0.3s: ValueError: ...)
    and a failed attempt ends with its traceback.
    """
    from rich.text import Text

    from legato.cli.render import attempt_header, make_console, print_json
    from legato.quick_settings import read_settings
    from legato.services.steps import run_logs

    view = run_logs(read_settings(), run, step)
    if json:
        print_json(view)
        return
    console = make_console()
    if not view.lines and not view.attempts:
        console.print(f"no logs recorded for run {view.run.run_id}"
                      + (f" step '{step}'" if step else ""), style="dim")
        return
    groups: dict[tuple[str, int], list[LogLineView]] = {}  # in the order they were written
    for line in view.lines:
        groups.setdefault((line.step_key, line.attempt), []).append(line)
    tried = {(a.step_key, a.attempt): a for a in view.attempts}
    for key, attempt in dict.fromkeys([*tried, *groups]):
        outcome = tried.get((key, attempt))
        console.print(attempt_header(key, attempt, outcome), soft_wrap=True)
        for line in groups.get((key, attempt), []):
            at = dt.datetime.fromtimestamp(line.at).strftime("%H:%M:%S.%f")[:-3]
            style = "red" if line.level >= logging.ERROR else (
                "yellow" if line.level >= logging.WARNING else "")
            console.print(Text.assemble((f"{at} {line.stream:<6} {line.level_name:<7} ", "dim"),
                                        (line.message, style)), soft_wrap=True)
        if outcome is not None and outcome.traceback:
            console.print(Text(outcome.traceback.rstrip(), style="red"), soft_wrap=True)
