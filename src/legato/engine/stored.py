"""Runs as the store holds them: a run's result read back (for a run of another process,
or one that has ended), a step's stored value, and where a run's definitions can be loaded
again from."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from legato.engine.results import RunResult, StepResult
from legato.errors import ValueStoreError
from legato.settings import Settings
from legato.store.records import RunRecord
from legato.store.sql_store import SqlStore
from legato.values.value_store import ValueStore


def source_of(functions: Iterable[Callable[..., Any]]) -> str | None:
    """Where a run's definitions can be loaded again from, when they all live in one module:
    ``module:name``, or ``file:path`` for a script or a file loaded by path."""
    modules = {getattr(fn, "__module__", None) for fn in functions}
    if len(modules) != 1:
        return None
    name = modules.pop()
    module = sys.modules.get(name or "")
    if module is None or name is None:
        return None
    path = getattr(module, "__file__", None)
    if name == "__main__" or name.startswith("legato_user_"):
        return f"file:{path}" if path else None
    return f"module:{name}"


def stored_result(settings: Settings, run: RunRecord) -> RunResult:
    """What the store holds of a run, as a ``RunResult`` (for a run of another process)."""
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        steps = store.get_steps(run.run_id)
        output = None
        if run.output_value_id is not None:
            stored = store.get_value(run.output_value_id)
            values = ValueStore(settings.value_dir, allow_pickle=settings.allow_pickle)
            try:
                output = values.get(stored) if stored is not None else None
            except ValueStoreError:
                output = None
    return RunResult(
        run_id=run.run_id, status=run.status, output=output, error=run.error,
        steps={s.step_key: StepResult(key=s.step_key, status=s.status, attempts=s.attempts,
                                      duration=s.duration, error=s.error, reason=s.reason)
               for s in steps},
        _load=lambda key: load_step_value(settings, run.run_id, key),
    )


def load_step_value(settings: Settings, run_id: str, step_key: str) -> Any:
    """The stored value of one step of a run."""
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        step = next((s for s in store.get_steps(run_id) if s.step_key == step_key), None)
        stored = store.get_value(step.value_id) if step and step.value_id else None
        if stored is None:
            raise KeyError(f"step '{step_key}' of run {run_id} has no stored value")
        values = ValueStore(settings.value_dir, allow_pickle=settings.allow_pickle)
        return values.get(stored)
