"""``legato serve [FILE.py]``: the scheduler and a worker of the project in one process,
until SIGTERM or Ctrl-C."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from legato.cli.options import FileArgument, GraceOption, ModuleOption, SlotsOption

if TYPE_CHECKING:
    from legato.services.daemons import RunEnd


def serve(
    file: FileArgument = None,
    *,
    module: ModuleOption = None,
    slots: SlotsOption = None,
    grace: GraceOption = 10.0,
) -> None:
    """Run the project: its schedules, sensors, asset-event triggers and backfills start
    runs, and this process executes them.

    The scheduler and a worker in one process, on the embedded SQLite store by default. To
    scale out, run legato scheduler and legato worker as separate processes, on several
    machines against one PostgreSQL. SIGTERM or Ctrl-C stops scheduling and lets the runs
    under way finish for the grace period; those still running are then released for
    another worker to take over at once (a second SIGTERM or Ctrl-C: release them now).

    Example: legato serve pipelines.py
    """
    from legato.cli.commands.scheduler import log_to, print_tick
    from legato.cli.commands.worker import stopping_on_signals, watch
    from legato.cli.locate import load_project
    from legato.cli.render import make_console, where
    from legato.services import daemons
    from legato.settings import load_settings

    settings = load_settings()
    defs = load_project(file, module, settings, "serve")
    console = make_console()
    log_to(make_console(stderr=True))
    ends: list[RunEnd] = []
    server = daemons.server(settings, defs, slots=slots, grace_s=grace,
                            on_tick=lambda report: print_tick(console, report),
                            on_run_end=ends.append)
    stop = threading.Event()
    count = len(defs.triggers())
    console.print(f"legato serve: {count} trigger{'s' * (count != 1)}, "
                  f"{server.worker.slots} worker slots on {where(settings.store_url)}; "
                  "Ctrl-C to stop", markup=False, soft_wrap=True)
    failure: list[BaseException] = []

    def serve_until_stopped() -> None:
        try:
            server.run(stop)
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=serve_until_stopped, name="legato-serve")

    with stopping_on_signals(settings, server.worker, stop):
        watch(console, server.worker, thread, stop, ends)
    if failure:
        raise failure[0]
    stats = server.worker.stats()
    console.print(f"stopped: {stats.succeeded} succeeded, {stats.failed} failed, "
                  f"{stats.released} released", markup=False)
