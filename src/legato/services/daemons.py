"""The long-running processes: a worker, the scheduler, and both in one server.

Interfaces start them here and watch them through the objects returned (their ``run``,
``stats``, ``hurry``) and the callbacks given (``RunEnd``, ``TickReport``); the daemon
package does the work. The types are re-exported so that interfaces name them from here.
"""

from __future__ import annotations

from collections.abc import Callable

from legato.daemon.scheduler import Scheduler, TickReport
from legato.daemon.serve import Server
from legato.daemon.worker import DEFAULT_GRACE_S, RunEnd, Worker
from legato.definitions.definitions import Definitions
from legato.settings import Settings

__all__ = ["RunEnd", "Scheduler", "Server", "TickReport", "Worker", "scheduler", "server",
           "worker"]


def worker(settings: Settings, *, definitions: Definitions | None = None,
           slots: int | None = None, grace_s: float = DEFAULT_GRACE_S,
           on_run_end: Callable[[RunEnd], None] | None = None) -> Worker:
    """A worker that claims queued runs (``run(stop)`` until ``stop`` is set); with
    ``definitions``, every run executes against them, else against those it was requested
    from."""
    return Worker(settings, definitions=definitions, slots=slots, grace_s=grace_s,
                  on_run_end=on_run_end)


def scheduler(settings: Settings, definitions: Definitions) -> Scheduler:
    """The scheduler of these definitions, a context manager: ``run(stop, on_tick=...)``."""
    return Scheduler(settings, definitions)


def server(settings: Settings, definitions: Definitions, *, slots: int | None = None,
           grace_s: float = DEFAULT_GRACE_S,
           on_tick: Callable[[TickReport], None] | None = None,
           on_run_end: Callable[[RunEnd], None] | None = None) -> Server:
    """The scheduler and a worker in one process: ``run(stop)`` until ``stop`` is set."""
    return Server(settings, definitions, slots=slots, grace_s=grace_s, on_tick=on_tick,
                  on_run_end=on_run_end)
