"""The public run functions: ``lg.run``, ``lg.materialize``, ``lg.resume``, ``lg.load``,
``lg.trigger``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from legato.definitions.asset import AssetDefinition
from legato.definitions.definitions import Definitions
from legato.definitions.flow import FlowDefinition
from legato.definitions.loader import load_definitions
from legato.definitions.task import TaskDefinition
from legato.engine.results import RunResult
from legato.engine.runner import Runner
from legato.graph.selection import Selection
from legato.settings import Settings


def run(
    target: FlowDefinition[..., Any] | TaskDefinition[..., Any],
    /,
    *,
    settings: Settings | None = None,
    idempotency_key: str | None = None,
    **params: Any,
) -> RunResult:
    """Run a flow (or a single task) now, in this process, and record it in the store.

    ``params`` are the flow's parameters. The store, executor and limits come from
    ``settings`` (default: ``LEGATO_*`` variables and ``[tool.legato]``). A failed run
    returns a result with ``status == "failed"``; it does not raise.

    With ``idempotency_key``, submitting again returns the run of the first submission
    (resumed if its process died) instead of starting another.
    """
    return Runner(settings).run(target, params, idempotency_key=idempotency_key)


def resume(
    run_id: str,
    /,
    *,
    definitions: Definitions | FlowDefinition[..., Any] | TaskDefinition[..., Any] | None = None,
    wait: bool = False,
    restart: bool = False,
    settings: Settings | None = None,
) -> RunResult:
    """Resume a run whose process died: what it committed is not run again, a flow replays
    its recorded results, the step in flight runs again (same ``ctx.idempotency_key``).

    The definitions are loaded again from where the run recorded them, unless given. A run
    that has ended is left as it is (its result is returned). A run whose process still
    holds its lease raises ``RunInProgressError``, or with ``wait=True`` is resumed once the
    lease expires. ``restart=True`` runs the same target with the same parameters anew
    instead (after a ``NonDeterminismError``, say).
    """
    return Runner(settings).resume(run_id, definitions=definitions, wait=wait, restart=restart)


def materialize(
    assets: Definitions | Iterable[AssetDefinition[..., Any]],
    /,
    selection: Selection | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    partition: str | None = None,
    settings: Settings | None = None,
) -> RunResult:
    """Materialize ``selection`` (default: all of ``assets``) in dependency order.

    Upstream assets outside the selection give their latest materialization. ``params``
    reach each step as ``ctx.params``. ``partition`` is the partition key the partitioned
    assets compute (``ctx.partition_key``); they read the matching partitions of their
    upstream assets.
    """
    return Runner(settings).materialize(assets, selection, params=params,
                                        partition_key=partition)


def load(target: str) -> Definitions:
    """Load definitions from a module name (``pkg.pipelines``) or a file (``flows.py``)."""
    return load_definitions(target)


def trigger(
    flow: FlowDefinition[..., Any] | TaskDefinition[..., Any] | str,
    /,
    *,
    params: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    priority: int = 0,
    tags: Sequence[str] = (),
    settings: Settings | None = None,
) -> str:
    """Queue a run of ``flow`` for a worker (``legato worker``) to execute; its run id.

    ``flow`` is a flow (or a task), or its name in the project's definitions (the
    ``definitions`` setting). ``params`` must fit the flow's signature and be JSON values.
    Higher ``priority`` runs first; ``tags`` count against the ``run_concurrency`` limits
    (a flow's runs also carry ``flow:<name>``). With ``idempotency_key``, triggering again
    returns the run of the first request instead of queuing another.
    """
    from legato.engine.enqueue import trigger_run

    return trigger_run(flow, params=dict(params or {}), idempotency_key=idempotency_key,
                       priority=priority, tags=tags, settings=settings)
