"""``legato scheduler [FILE.py]``: run the scheduler in the foreground until Ctrl-C or
SIGTERM, with one line per pass that did something."""

from __future__ import annotations

from typing import TYPE_CHECKING

from legato.cli.options import FileArgument, ModuleOption

if TYPE_CHECKING:
    from rich.console import Console

    from legato.services.daemons import TickReport


def scheduler(file: FileArgument = None, module: ModuleOption = None) -> None:
    """Run the scheduler: evaluate schedules, sensors and asset triggers, and queue the
    runs they request (workers run them).

    It stops cleanly on Ctrl-C or SIGTERM. On SQLite one scheduler is active at a time and
    a second one stands by until the first stops; on PostgreSQL several may run at once:
    each tick still makes one run. The sleep between passes is at most the scheduler_tick
    setting; a sensor's function may take at most sensor_timeout seconds.
    """
    import signal
    import threading

    from legato.cli.errors import CommandLineError
    from legato.cli.locate import load_project
    from legato.cli.render import make_console, where
    from legato.services import daemons
    from legato.settings import load_settings

    if file is not None and not file.endswith(".py"):
        raise CommandLineError(f"'{file}' is not a definitions file (a .py file)",
                               hint="legato scheduler [FILE.py] or legato scheduler -m pkg.mod")
    settings = load_settings()
    defs = load_project(file, module, settings, "scheduler")
    console = make_console()
    log_to(make_console(stderr=True))
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    count = len(defs.triggers())
    console.print(f"[bold]legato scheduler[/]: {count} trigger{'s' * (count != 1)} "
                  f"on {where(settings.store_url)}; Ctrl-C to stop")
    try:
        with daemons.scheduler(settings, defs) as running:
            running.run(stop, on_tick=lambda report: print_tick(console, report))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print("scheduler stopped")


def print_tick(console: Console, report: TickReport) -> None:
    """One line for a pass that evaluated something."""
    if not (report.evaluated or report.failed):
        return
    from rich.text import Text

    style = "red" if report.failed else "green" if report.requested else "dim"
    console.print(Text(f"{report.at.strftime('%H:%M:%S')} ", style="dim")
                  + Text(report.describe(), style=style))


def log_to(console: Console) -> None:
    """The scheduler's log records as plain lines on ``console`` (stderr)."""
    import logging

    from rich.text import Text

    class ConsoleHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            style = "yellow" if record.levelno >= logging.WARNING else "dim"
            console.print(Text(record.getMessage(), style=style))

    logger = logging.getLogger("legato.daemon")
    for handler in list(logger.handlers):
        if type(handler).__name__ == "ConsoleHandler":
            logger.removeHandler(handler)
    logger.setLevel(logging.INFO)
    logger.addHandler(ConsoleHandler())
    logger.propagate = False
