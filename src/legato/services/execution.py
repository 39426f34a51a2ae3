"""Executing runs in this process: a flow, an asset selection, or the resumption of a run
whose process died. The engine does the work; these are its entry points for interfaces,
which watch each run's events through ``observer`` and get a ``RunOutcome``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from legato.services.views.runs import RunOutcome
from legato.store.records import Event

__all__ = ["Event", "RunObserver", "materialize", "resume", "run_flow", "select_assets"]

if TYPE_CHECKING:
    from legato.definitions.definitions import Definitions
    from legato.definitions.flow import FlowDefinition
    from legato.definitions.task import TaskDefinition
    from legato.engine.results import RunResult
    from legato.engine.runner import Runner
    from legato.settings import Settings

RunObserver = Callable[[Event], None]
"""Called with every event a run records, from several threads at once."""


def _execute(settings: Settings, observer: RunObserver | None,
             start: Callable[[Runner], RunResult]) -> RunOutcome:
    from legato.engine.runner import Runner

    result = start(Runner(settings, observer=observer))
    return RunOutcome(run_id=result.run_id, status=str(result.status), output=result.output)


def run_flow(settings: Settings, flow: FlowDefinition[Any, Any] | TaskDefinition[Any, Any],
             params: Mapping[str, Any], *, source: str | None = None,
             idempotency_key: str | None = None,
             observer: RunObserver | None = None) -> RunOutcome:
    """Run a flow (or a task, as a one-step flow) here and now; with ``idempotency_key``,
    a second submission gets the first one's run."""
    return _execute(settings, observer, lambda runner: runner.run(
        flow, params, source=source, idempotency_key=idempotency_key))


def select_assets(definitions: Definitions, selection: Sequence[str],
                  partition_key: str | None = None) -> list[str]:
    """The asset keys a selection names (all of them for an empty one); a bad selection or
    partition raises here, before any run is recorded."""
    from legato.engine.partitioned import check_run_partition
    from legato.graph.selection import resolve_selection

    keys = resolve_selection(definitions.graph, list(selection) or None)
    check_run_partition(definitions.graph, keys, partition_key)
    return keys


def materialize(settings: Settings, definitions: Definitions, keys: Sequence[str], *,
                params: Mapping[str, Any] | None = None, partition_key: str | None = None,
                observer: RunObserver | None = None) -> RunOutcome:
    """Materialize these assets (``select_assets``) in dependency order, here and now."""
    return _execute(settings, observer, lambda runner: runner.materialize(
        definitions, list(keys), params=params, partition_key=partition_key))


def resume(settings: Settings, run_id: str, *, wait: bool = False, restart: bool = False,
           observer: RunObserver | None = None) -> RunOutcome:
    """Continue a run whose process died (or, with ``restart``, run it anew)."""
    return _execute(settings, observer, lambda runner: runner.resume(
        run_id, wait=wait, restart=restart))


def cancel_grace_s() -> float:
    """How long a run canceled by Ctrl-C waits for its running steps to record how they
    ended (a second Ctrl-C stops the wait), for interfaces to say so."""
    from legato.engine.runner import CANCEL_GRACE_S

    return CANCEL_GRACE_S
