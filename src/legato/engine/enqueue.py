"""Queue a run of a flow for a worker (``lg.trigger``, ``legato trigger``).

The request is checked here, where the flow is at hand, so that a bad one fails at once
rather than in a worker later: the parameters must fit the flow's signature and be JSON
values (they are stored), and the flow must come from a module or file a worker can load
again (``runs.source``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from legato.definitions.flow import FlowDefinition
from legato.definitions.recording import record_run_definitions
from legato.definitions.task import TaskDefinition
from legato.engine.session import new_run_id
from legato.engine.stored import source_of
from legato.errors import DefinitionError, ParamsError
from legato.settings import Settings, load_settings
from legato.store.queue import enqueue, queued_event
from legato.store.sql_store import SqlStore

Runnable = FlowDefinition[Any, Any] | TaskDefinition[Any, Any]


def trigger_run(flow: Runnable | str, *, params: Mapping[str, Any],
                idempotency_key: str | None = None, priority: int = 0,
                tags: Sequence[str] = (), settings: Settings | None = None,
                source: str | None = None) -> str:
    """Enqueue a run of ``flow`` (a flow, a task, or a name in the project's definitions);
    its run id, or that of the run first queued with ``idempotency_key``."""
    settings = settings or load_settings()
    if isinstance(flow, str):
        flow, source = named_flow(flow, settings)
    if not isinstance(flow, FlowDefinition | TaskDefinition):
        raise ParamsError(f"lg.trigger() takes a flow, a task or a flow's name, not {flow!r}",
                          hint="to materialize assets, use lg.materialize")
    params = checked_params(flow, params)
    source = source or source_of([flow.fn])
    if source is None:
        raise DefinitionError(
            f"flow '{flow.name}' was defined where a worker cannot load it again (not in a "
            "module or file)",
            hint="define it in a module or a file, or run it here and now with lg.run")
    run_id = new_run_id()
    event = queued_event(run_id, kind="flow", target=flow.name, params=params, source=source,
                         tags=list(tags), priority=priority, idempotency_key=idempotency_key)
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        record_run_definitions(store, source, runs=flow)  # the catalog, for who never imports them
        if enqueue(store, [event])[0]:
            return run_id
        assert idempotency_key is not None  # only a reused key refuses a request
        existing = store.find_run_by_idempotency_key(idempotency_key)
    if existing is None:  # pragma: no cover - a key is never removed
        raise ParamsError(f"idempotency key '{idempotency_key}' was refused",
                          hint="use a new key")
    if existing.kind != "flow" or existing.target != flow.name or existing.params != params:
        what = ("other parameters" if existing.target == flow.name
                else f"{existing.kind} '{existing.target}'")
        raise ParamsError(
            f"idempotency key '{idempotency_key}' was already used by run "
            f"{existing.run_id}, with {what}",
            hint="a key names one request: use a new key for a different one")
    return existing.run_id


def checked_params(flow: Runnable, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as they will be stored, if they fit the flow; else ``ParamsError``."""
    try:
        inspect.signature(flow.fn).bind(**params)
    except TypeError as error:
        raise ParamsError(f"flow '{flow.name}' cannot take these parameters: {error}",
                          hint="pass each parameter of the flow by name") from None
    try:
        text = json.dumps(dict(params))
    except (TypeError, ValueError) as error:
        raise ParamsError(
            f"the parameters of a queued run of '{flow.name}' must be JSON values: {error}",
            hint="pass strings, numbers, booleans, lists and dicts (a date as '2024-05-01')",
        ) from None
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def named_flow(name: str, settings: Settings) -> tuple[Runnable, str | None]:
    """The flow (else task) called ``name`` in the project's definitions, and their source."""
    configured = settings.definitions
    if configured is None:
        raise DefinitionError(
            f"cannot find flow '{name}': no definitions are configured",
            hint="pass the flow itself (lg.trigger(nightly)), or set definitions = "
            "\"pipelines.py\" under [tool.legato] in pyproject.toml (or LEGATO_DEFINITIONS)")
    if configured.endswith(".py") or "/" in configured:
        path = Path(configured)
        configured = str(path if path.is_absolute() else settings.root / path)
    from legato.definitions.loader import load_definitions

    defs = load_definitions(configured)
    found: Runnable | None = defs.tasks.get(name) if name not in defs.flows else None
    return (found or defs.flow(name)), defs.source
