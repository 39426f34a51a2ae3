"""The long-running processes: a worker, the scheduler, and both in one server.

Interfaces start them here and watch them through the objects returned (their ``run``,
``stats``, ``hurry``) and the callbacks given (``RunEnd``, ``TickReport``); the daemon
package does the work. The types are re-exported so that interfaces name them from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from legato.daemon.scheduler import Scheduler, TickReport
from legato.daemon.serve import Server
from legato.daemon.worker import DEFAULT_GRACE_S, RunEnd, Worker
from legato.definitions.definitions import Definitions
from legato.settings import Settings

if TYPE_CHECKING:
    from legato.services.views.runs import UnderWayView

__all__ = ["RunEnd", "Scheduler", "Server", "TickReport", "Worker", "scheduler", "server",
           "under_way", "worker"]


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


def under_way(settings: Settings, owner: str) -> list[UnderWayView]:
    """The runs that the process of lease owner ``owner`` (a worker's) executes now, and
    their running steps: what its shutdown waits for. Runs it took over count too (their
    lease names the same host and process). A step's start is recorded with its end, so
    the steps running now come from the process's in-flight journal, then the store."""
    from legato.engine.inflight import read_in_flight
    from legato.engine.lease import owner_process
    from legato.engine.runner import JOURNALS
    from legato.services.connect import reading
    from legato.services.views.runs import UnderWayView

    process = owner_process(owner)
    found = []
    with reading(settings) as store:
        for run in store.list_runs(status="running", limit=10_000):
            held = owner_process(run.lease_owner)
            if process is None or held is None or held[:2] != process[:2]:
                continue
            journal = read_in_flight(settings.home_dir / JOURNALS, held, run.run_id)
            steps = tuple(dict.fromkeys(
                [entry.step_key for entry in journal]
                + [step.step_key for step in store.get_steps(run.run_id)
                   if step.status == "running"]))
            found.append(UnderWayView(run_id=run.run_id, target=run.target,
                                      running_steps=steps))
    return found
