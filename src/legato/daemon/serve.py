"""``legato serve``: the scheduler and a worker of one project, in one process.

The scheduler loops in a thread of its own: it evaluates the project's schedules, sensors
and asset-event triggers, queues the runs they request and advances running backfills.
The worker claims queued runs and executes them. A scheduler pass that queued runs wakes
the worker at once, so a tick's first step starts within milliseconds instead of at the
worker's next look at the queue.

Loops of installed plugins (entry point group ``legato.loops``, ``daemon/loops.py``) run
next to them, each in a thread of its own, restarted when they fail.

Stopping (``stop``) ends the scheduler's loop (on SQLite, releasing its lease, so that
another ``legato serve`` takes over at once) and shuts the worker down: the runs under
way get its grace period, then are released for another worker to take over.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from legato.daemon.loops import LoopContext, LoopSupervisor, OnFailure, installed_loops
from legato.daemon.scheduler import Scheduler, TickReport
from legato.daemon.worker import DEFAULT_GRACE_S, RunEnd, Worker
from legato.definitions.definitions import Definitions
from legato.settings import Settings

SCHEDULER_STOP_S = 30.0
LOOPS_STOP_S = 10.0


class Server:
    """``Server(settings, definitions).run(stop)``: schedule and execute until ``stop``.

    The worker executes the runs of these definitions with them, and loads the
    definitions of other runs in the queue from where they were requested."""

    def __init__(self, settings: Settings, definitions: Definitions, *,
                 slots: int | None = None, grace_s: float = DEFAULT_GRACE_S,
                 on_tick: Callable[[TickReport], None] | None = None,
                 on_run_end: Callable[[RunEnd], None] | None = None,
                 loops: dict[str, Callable[[LoopContext], Any]] | None = None,
                 on_loop_failure: OnFailure | None = None) -> None:
        """``loops``: the plugins' loops by name, instead of the installed ones (each
        loaded when it starts, so that one that cannot be imported fails alone)."""
        self.settings = settings
        self.definitions = definitions
        self.on_tick = on_tick
        self.worker = Worker(settings, definitions=definitions, other_sources=True,
                             slots=slots, grace_s=grace_s, on_run_end=on_run_end)
        self.scheduler_error: BaseException | None = None
        loaders: dict[str, Callable[[], Callable[[LoopContext], Any]]] = (
            {point.name: point.load for point in installed_loops()} if loops is None
            else {name: functools.partial(_given, fn) for name, fn in loops.items()})
        self.loops = LoopSupervisor(loaders, settings=settings, definitions=definitions,
                                    owner=self.worker.owner, on_failure=on_loop_failure)

    def run(self, stop: threading.Event) -> None:
        with Scheduler(self.settings, self.definitions, owner=self.worker.owner) as scheduler:
            loop = threading.Thread(target=self._schedule, args=(scheduler, stop),
                                    name="legato-scheduler", daemon=True)
            loop.start()
            self.loops.start(stop)
            try:
                self.worker.run(stop)
            finally:
                stop.set()
                loop.join(SCHEDULER_STOP_S)
                self.loops.join(LOOPS_STOP_S)
        if self.scheduler_error is not None:
            raise self.scheduler_error

    def _schedule(self, scheduler: Scheduler, stop: threading.Event) -> None:
        try:
            scheduler.run(stop, on_tick=self._ticked)
        except BaseException as error:  # the worker stops too: serve does not run half
            self.scheduler_error = error
            stop.set()

    def _ticked(self, report: TickReport) -> None:
        if report.requested or report.backfills:
            self.worker.wake()
        if self.on_tick is not None:
            self.on_tick(report)


def _given(loop: Callable[[LoopContext], Any]) -> Callable[[LoopContext], Any]:
    return loop
