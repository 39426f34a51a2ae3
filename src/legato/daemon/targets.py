"""What a worker executes for a run: its flow (or task), or the definitions of its assets,
loaded from where the run was requested (``runs.source``) and kept per source.

A file is loaded again when it changed since (a worker lives long; the code under it
moves on); a module is imported once per worker (restart workers to deploy new code in
installed packages). A run whose definitions cannot be loaded, or no longer hold its flow,
raises ``DefinitionError`` with what to do: the worker records the run as failed with it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from legato.definitions.definitions import Definitions
from legato.definitions.flow import FlowDefinition
from legato.definitions.task import TaskDefinition
from legato.errors import DefinitionError
from legato.store.records import RunRecord

Target = FlowDefinition[Any, Any] | TaskDefinition[Any, Any] | Definitions
"""A flow run's flow (or task run as a one-step flow); an asset run's definitions."""


def _stamp(source: str) -> tuple[int, int] | None:
    """When a ``file:`` source last changed (and its size); None for a module."""
    kind, _, path = source.partition(":")
    if kind != "file":
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class RunTargets:
    """Definitions by source, loaded on first use. ``given`` definitions serve the runs
    requested from them (their source), and runs that recorded no source; with
    ``only_given``, every run."""

    def __init__(self, given: Definitions | None = None, *, only_given: bool = True) -> None:
        self._given = given
        self._only_given = only_given
        self._loaded: dict[str, tuple[tuple[int, int] | None, Definitions]] = {}
        self._lock = threading.Lock()  # one import at a time: they share sys.modules

    @property
    def given(self) -> bool:
        """True when every run executes against definitions given to the worker."""
        return self._given is not None

    def target(self, run: RunRecord) -> Target:
        """What to execute for ``run``; ``DefinitionError`` if it cannot be found."""
        defs = self.definitions(run)
        if run.kind == "assets":
            return defs
        found = defs.flows.get(run.target) or defs.tasks.get(run.target)
        if found is None:
            where = f"in {run.source}" if self._given is None else "in the worker's definitions"
            defined = ", ".join(sorted(defs.flows)) or "none"
            raise DefinitionError(
                f"flow '{run.target}' is not defined {where} (defined flows: {defined})",
                hint="restore the flow, or trigger a flow that exists")
        return found

    def definitions(self, run: RunRecord) -> Definitions:
        given = self._given
        if given is not None and (self._only_given or run.source in (None, given.source)):
            return given
        source = run.source
        if source is None:
            raise DefinitionError(
                f"run {run.run_id} did not record where its definitions come from (they were "
                "built in code), so a worker cannot load them",
                hint="trigger flows defined in a module or file (lg.trigger, legato trigger), "
                "or give the worker its definitions: Worker(settings, definitions=...)")
        stamp = _stamp(source)
        with self._lock:
            cached = self._loaded.get(source)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            from legato.definitions.loader import load_from_source

            try:
                defs = load_from_source(source, fresh=stamp is not None)  # as it is now
            except DefinitionError as error:
                self._loaded.pop(source, None)
                raise DefinitionError(
                    f"the definitions of run {run.run_id} ({source}) cannot be loaded: {error}",
                    hint=error.hint or "fix the module, then trigger the run again") from None
            self._loaded[source] = (stamp, defs)
            return defs
