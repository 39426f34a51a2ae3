"""Loops of plugins that run inside ``legato serve``, next to its scheduler and worker.

An installed package registers a loop under the entry point group ``legato.loops``::

    [project.entry-points."legato.loops"]
    lineage = "legato_openlineage:emit"

The entry point names a function ``loop(context: LoopContext) -> None`` that works until
``context.stop`` is set (waiting on it, ``context.stop.wait(seconds)``, between passes) and
then returns. So the control plane's sync, an OpenLineage emitter or alert delivery run
inside ``serve`` without the core importing them.

Each loop has a thread of its own under a supervisor: a loop that raises (or cannot even
be loaded) is reported and started again after a pause that doubles up to a minute, while
``serve`` goes on; a loop that returns before ``stop`` is reported and started again too.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from legato.definitions.definitions import Definitions
from legato.settings import Settings

GROUP = "legato.loops"
FIRST_PAUSE_S = 1.0
LONGEST_PAUSE_S = 60.0
log = logging.getLogger("legato.serve")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopContext:
    """What a loop is given: the server's settings and definitions, and when to stop."""

    name: str
    settings: Settings
    definitions: Definitions
    stop: threading.Event
    owner: str
    """The server's identity (its worker's owner), for a loop that records who did what."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopFailure:
    """A loop raised (or could not be loaded): it starts again after ``restart_in``."""

    name: str
    error: BaseException
    traceback: str
    failures: int
    restart_in: float


def installed_loops() -> list[EntryPoint]:
    """The loops registered by installed packages, by name."""
    return sorted(entry_points(group=GROUP), key=lambda point: point.name)


OnFailure = Callable[[LoopFailure], None]


def _report(failure: LoopFailure) -> None:
    log.error("legato serve: loop %r failed (%d time%s), starting it again in %.0fs\n%s",
              failure.name, failure.failures, "s" if failure.failures > 1 else "",
              failure.restart_in, failure.traceback.rstrip())


class LoopSupervisor:
    """Runs each loop in a thread, restarting it when it fails, until ``stop``."""

    def __init__(self, loops: dict[str, Callable[[], Callable[[LoopContext], Any]]], *,
                 settings: Settings, definitions: Definitions, owner: str,
                 on_failure: OnFailure | None = None,
                 first_pause_s: float = FIRST_PAUSE_S) -> None:
        """``loops``: by name, how to load each loop function (an entry point's ``load``)."""
        self.loops = loops
        self.settings = settings
        self.definitions = definitions
        self.owner = owner
        self.on_failure = on_failure or _report
        self.first_pause_s = first_pause_s
        self._threads: list[threading.Thread] = []

    def start(self, stop: threading.Event) -> None:
        for name, load in self.loops.items():
            thread = threading.Thread(target=self._supervise, args=(name, load, stop),
                                      name=f"legato-loop-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def join(self, timeout: float) -> None:
        """Wait (at most ``timeout`` in all) for the loops to return after ``stop``."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for thread in self._threads:
            if thread.is_alive():
                log.warning("legato serve: %s did not stop within %.0fs; left running",
                            thread.name, timeout)

    def _supervise(self, name: str, load: Callable[[], Callable[[LoopContext], Any]],
                   stop: threading.Event) -> None:
        failures = 0
        context = LoopContext(name=name, settings=self.settings,
                              definitions=self.definitions, stop=stop, owner=self.owner)
        while not stop.is_set():
            began = time.monotonic()
            try:
                load()(context)
                if stop.is_set():
                    return
                raise RuntimeError("the loop returned before serve stopped")
            except Exception as error:
                if stop.is_set():
                    return
                if time.monotonic() - began > LONGEST_PAUSE_S:
                    failures = 0  # it ran well for a while: start the pauses over
                failures += 1
                pause = min(LONGEST_PAUSE_S, self.first_pause_s * 2 ** (failures - 1))
                failure = LoopFailure(name=name, error=error, failures=failures,
                                      traceback=traceback.format_exc(), restart_in=pause)
                try:
                    self.on_failure(failure)
                except Exception:
                    _report(failure)
                stop.wait(pause)
