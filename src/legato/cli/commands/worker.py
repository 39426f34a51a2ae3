"""``legato worker``: claim queued runs and execute them, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from legato.cli.options import FileArgument, GraceOption, ModuleOption, SlotsOption

if TYPE_CHECKING:
    from rich.console import Console

    from legato.services.daemons import RunEnd, Worker
    from legato.settings import Settings

STATUS_EVERY_S = 0.5


def worker(
    file: FileArgument = None,
    *,
    module: ModuleOption = None,
    slots: SlotsOption = None,
    grace: GraceOption = 10.0,
) -> None:
    """Execute queued runs (legato trigger, schedules, backfills) until stopped.

    Claims up to N runs at once within the max_concurrent_runs and run_concurrency limits,
    and resumes runs whose process died. Each run's definitions are loaded from where it was
    requested (a changed file is loaded again), unless a file or module is named here: then
    every run executes against those. SIGTERM or Ctrl-C stops claiming and lets the runs
    under way finish for the grace period; those still running are then released for
    another worker to take over at once (a second SIGTERM or Ctrl-C: release them now).

    Example: legato worker --slots 8
    """
    from legato.cli.render import make_console, where
    from legato.services import daemons
    from legato.settings import load_settings

    settings = load_settings()
    definitions = None
    if file is not None or module is not None:
        from legato.cli.locate import load_project

        definitions = load_project(file, module, settings, "worker")
    console = make_console()
    ends: list[RunEnd] = []
    the_worker = daemons.worker(settings, definitions=definitions, slots=slots, grace_s=grace,
                                on_run_end=ends.append)
    stop = threading.Event()
    console.print(f"worker {the_worker.owner}: {the_worker.slots} slots on "
                  f"{where(settings.store_url)}", style="dim", markup=False, soft_wrap=True)
    thread = threading.Thread(target=the_worker.run, args=(stop,), name="legato-worker")

    with stopping_on_signals(settings, the_worker, stop):
        watch(console, the_worker, thread, stop, ends)
    stats = the_worker.stats()
    console.print(f"worker stopped: {stats.succeeded} succeeded, {stats.failed} failed, "
                  f"{stats.released} released", markup=False)


@contextlib.contextmanager
def stopping_on_signals(settings: Settings, the_worker: Worker, stop: threading.Event
                        ) -> Iterator[None]:
    """SIGTERM or Ctrl-C sets ``stop`` (no more claims; the runs under way get the grace
    period) and says at once, on stderr, what the process waits for and how to force it;
    a second one releases the runs now (``Worker.hurry``), and says so."""
    from legato.cli.render import make_console

    err = make_console(stderr=True)

    def on_signal(*_: object) -> None:
        if stop.is_set():
            the_worker.hurry()
            err.print(f"releasing the runs under way now ({the_worker.stats().running}); "
                      "another worker takes them over at once, or: legato resume RUN",
                      markup=False, soft_wrap=True)
            return
        stop.set()
        announce_stop(err, settings, the_worker)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def announce_stop(err: Console, settings: Settings, the_worker: Worker) -> None:
    """What a stopping worker waits for (each run and its running steps), and how to stop
    it at once."""
    from legato.services.daemons import under_way

    try:
        runs = under_way(settings, the_worker.owner)
    except Exception as error:  # a store away must not hide the way out
        err.print(f"stopping (the runs under way could not be read: {error})", markup=False,
                  soft_wrap=True)
        runs = None
    if runs == []:
        err.print("stopping: no runs under way", markup=False, soft_wrap=True)
        return
    if runs:
        err.print(f"stopping: no new runs; waiting up to {the_worker.grace_s:g}s for "
                  f"{len(runs)} run(s) under way, then releasing them to another worker:",
                  markup=False, soft_wrap=True)
        for run in runs:
            steps = ", ".join(run.running_steps) or "between steps"
            err.print(f"  run {run.run_id} {run.target}: {steps}", markup=False,
                      soft_wrap=True)
    err.print("press Ctrl-C again (or send SIGTERM again) to release them now; "
              f"kill -9 {os.getpid()} stops at once, and the runs go on in another worker "
              "or with legato resume RUN", markup=False, soft_wrap=True)


def watch(console: Console, the_worker: Worker, thread: threading.Thread,
           stop: threading.Event, ends: list[RunEnd]) -> None:
    """Run the worker in a thread; show its status line and each run's end, here."""
    thread.start()
    with console.status(_status(the_worker, stop)) as line:
        while thread.is_alive():
            thread.join(STATUS_EVERY_S)
            while ends:
                print_end(console, ends.pop(0))
            line.update(_status(the_worker, stop))
    while ends:
        print_end(console, ends.pop(0))


def _status(the_worker: Worker, stop: threading.Event) -> str:
    s = the_worker.stats()
    state = (f"stopping: waiting up to {the_worker.grace_s:g}s for {s.running} run(s)"
             if stop.is_set() else f"{s.running}/{the_worker.slots} running")
    return (f"{state} · {s.claimed} claimed · {s.resumed} resumed · {s.succeeded} succeeded"
            f" · {s.failed} failed")


def print_end(console: Console, end: RunEnd) -> None:
    from rich.text import Text

    from legato.cli.render import status_text

    line = Text.assemble("run ", (end.run_id, "bold"), f" {end.target} ",
                         status_text(end.status))
    if end.resumed:
        line.append(" (resumed)", style="dim")
    if end.error and end.status != "succeeded":
        line.append(f": {end.error}", style="red")
    console.print(line, soft_wrap=True)
