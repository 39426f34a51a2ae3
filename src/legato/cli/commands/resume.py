"""``legato resume RUN``: continue a run whose process died, from its last committed step."""

from __future__ import annotations

from typing import Annotated

import typer

from legato.cli.options import ExecutorOption, MaxParallelOption, RunArgument


def resume(
    run: RunArgument,
    *,
    wait: Annotated[
        bool, typer.Option("--wait", help="If the run's process still holds its lease, wait "
                           "for the lease to expire instead of giving up.")
    ] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Run the same flow or assets anew, with the same "
                           "parameters, instead of resuming (after a NonDeterminismError, "
                           "say); a run still in progress is canceled first.")
    ] = False,
    executor: ExecutorOption = None,
    max_parallel: MaxParallelOption = None,
) -> None:
    """Resume a run whose process died, with a live view of its steps.

    Steps whose end was committed do not run again (their values come from the store); a
    flow runs its function again and its finished task calls return their recorded results;
    the step that was in flight runs again, with the same ctx.idempotency_key. The
    definitions are loaded from where the run loaded them. A run that has ended is left as it
    is. Exits like legato run: 0 when the run succeeded, 1 when it failed, 130 when canceled.

    Example: legato resume last
    """
    from rich.text import Text

    from legato.cli.execute import execute, settings_for
    from legato.cli.render import make_console, status_text
    from legato.services.execution import resume as resume_run
    from legato.services.runs import get_run

    settings = settings_for(executor, max_parallel)
    record = get_run(settings, run)
    if record.status != "running" and not restart:
        console = make_console()
        console.print(Text.assemble(f"run {record.run_id} has already ended (",
                                    status_text(record.status), "): nothing to resume"),
                      soft_wrap=True)
        console.print(f"hint: legato show {record.run_id}  ·  to run it anew: legato resume "
                      f"{record.run_id} --restart", style="dim", soft_wrap=True)
        raise typer.Exit(0)
    code = execute(settings, lambda observer: resume_run(
        settings, record.run_id, wait=wait, restart=restart, observer=observer))
    raise typer.Exit(code)
