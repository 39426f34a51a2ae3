"""Start a run with the live progress display, then report how it ended.

Shared by ``legato run``, ``legato materialize`` and ``legato resume``; the run itself is
the services' (``legato.services.execution``), which this watches through its observer.
Ctrl-C while the run is in progress is handled by the engine, which records the run as
canceled and returns; here it first says at once what the run waits for, and how to stop
waiting (``announcing_cancel``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from rich.text import Text

from legato.cli.errors import ExitCode
from legato.cli.progress import RunProgress
from legato.cli.render import duration, make_console, status_text, steps_summary

if TYPE_CHECKING:
    from legato.services.execution import RunObserver
    from legato.services.views.runs import RunOutcome
    from legato.settings import Settings


def settings_for(executor: str | None, max_parallel: int | None) -> Settings:
    """The project's settings, with what the command line overrides."""
    from legato.settings import load_settings

    overrides: dict[str, Any] = {}
    if executor is not None:
        overrides["executor"] = str(executor)
    if max_parallel is not None:
        overrides["max_parallel"] = max_parallel
    return load_settings(**overrides)


def execute(settings: Settings, start: Callable[[RunObserver], RunOutcome]) -> ExitCode:
    """Run ``start(observer)`` under the progress display; print the summary; the exit
    code."""
    console = make_console()
    with RunProgress(console) as progress, announcing_cancel(progress):
        result = start(progress)
    _summarize(settings, result)
    if result.status == "succeeded":
        return ExitCode.OK
    if result.status == "canceled":
        return ExitCode.CANCELED
    if result.status == "running":  # submitted before, and still running in its process
        return ExitCode.OK
    return ExitCode.RUN_FAILED


@contextlib.contextmanager
def announcing_cancel(progress: RunProgress) -> Iterator[None]:
    """Ctrl-C during the run: say at once (stderr) which steps the engine waits for, and
    that a second Ctrl-C stops the wait, then interrupt as Python would (the engine records
    the run as canceled)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    err = make_console(stderr=True)
    pressed: list[int] = []

    def on_interrupt(*_: object) -> None:
        from legato.services.execution import cancel_grace_s

        pressed.append(signal.SIGINT)
        run = f"run {progress.run_id}" if progress.run_id else "the run"
        if len(pressed) > 1:
            err.print(f"canceling {run} now, without waiting for its steps", markup=False,
                      soft_wrap=True)
            raise KeyboardInterrupt
        running = progress.running()
        steps = (f"steps {', '.join(running)}" if len(running) > 1 else
                 f"step {running[0]}" if running else "its steps")
        resume = f"legato resume {progress.run_id}" if progress.run_id else "legato resume"
        err.print(f"canceling {run}: waiting up to {cancel_grace_s():g}s for {steps} to "
                  "stop and record how they ended; press Ctrl-C again to stop waiting "
                  f"(or kill -9 {os.getpid()}, then {resume} to go on)",
                  markup=False, soft_wrap=True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _summarize(settings: Settings, result: RunOutcome) -> None:
    from legato.services.runs import show_run

    console = make_console()
    detail = show_run(settings, result.run_id)
    run, steps = detail.run, detail.steps
    if steps:
        console.print(steps_summary(steps))
        console.print()
    line = Text.assemble("run ", (run.run_id, "bold"), " ", status_text(run.status))
    if run.duration_s is not None:
        line.append(f" in {duration(run.duration_s)}")
    if run.error and run.status != "canceled":
        line.append(f": {run.error}", style="red")
    console.print(line, soft_wrap=True)
    if result.status == "succeeded" and result.output is not None:
        console.print(Text.assemble(("output: ", "bold"), _short_repr(result.output)),
                      soft_wrap=True)
    console.print(Text(f"hint: legato show {run.run_id}"
                       + (f"  ·  legato logs {run.run_id}" if run.status == "failed" else ""),
                       style="dim"), soft_wrap=True)


def _short_repr(value: Any) -> str:
    """What the flow returned, cut to a few lines (a dataframe, a long list)."""
    import reprlib

    shortener = reprlib.Repr()
    shortener.maxstring, shortener.maxother, shortener.maxlist = 200, 200, 20
    shortener.maxdict = 20
    return shortener.repr(value)
