"""Run a selection of assets: each starts once all its upstream assets are settled.

Upstream assets outside the selection give their latest materialization, of the partitions
mapped to the run's partition (``engine/external.py``; a resumed run, the ones it started
with). When an upstream failed, a downstream asset is skipped with the
reason, or, with ``fallback=lg.last_good``, serves its last good value; independent
branches carry on. A resumed run does not run again the assets whose end it recorded."""

from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from legato.definitions.asset import AssetDefinition
from legato.definitions.options import LastGood
from legato.engine.external import load_external
from legato.engine.partitioned import asset_partition
from legato.engine.replay import RunHistory, recorded_outcome
from legato.engine.session import RunSession, StepOutcome, StepSpec
from legato.engine.step_runner import run_step, settle
from legato.graph.asset_graph import AssetGraph
from legato.store.records import StepStatus


def asset_spec(asset: AssetDefinition[Any, Any], upstream: tuple[str, ...],
               partition_key: str | None = None) -> StepSpec:
    key, window = asset_partition(asset, partition_key)
    return StepSpec(
        key=asset.key, name=asset.key, kind="asset", fn=asset.fn, options=asset.options,
        wants_ctx=asset.wants_ctx, is_async=asset.is_async, upstream=upstream,
        code_version=lambda: asset.code_version, tags=asset.options.tags,
        partition_key=key, partition_window=window,
    )


def _recorded(session: RunSession, graph: AssetGraph, keys: list[str],
              history: RunHistory) -> list[str]:
    """A resumed run: the assets whose end was recorded, in execution order, their outcomes
    set. Values are loaded only for the assets that will run; an asset whose value cannot
    be loaded any more is reset, and runs again."""
    to_run = {k for k in keys if k not in history.steps or not history.steps[k].finished}
    done = []
    for key in reversed(keys):  # downstream first: a reset asset makes its inputs needed
        step = history.steps.get(key)
        if step is None or not step.finished:
            continue
        outcome: StepOutcome | None = StepOutcome(
            status=step.status, value_id=step.value_id, attempts=step.attempts,
            error=step.error, reason=step.reason, started_at=step.started_at)
        if step.ok and any(key in graph.assets[down].inputs
                           for down in graph.downstream[key] if down in to_run):
            outcome = recorded_outcome(session, step)
        if outcome is None:
            to_run.add(key)
            continue
        session.finish_step(key, outcome)
        done.append(key)
    return done[::-1]


def run_assets(session: RunSession, graph: AssetGraph, keys: list[str],
               partition_key: str | None = None) -> None:
    """Run ``keys`` (in execution order); partitioned assets compute ``partition_key``."""
    selected = set(keys)
    external = load_external(session, graph, keys, partition_key)
    history = session.history
    recorded = _recorded(session, graph, keys, history) if history is not None else []
    waiting = {k: {up for up in graph.upstream[k] if up in selected} for k in keys}
    ready: deque[str] = deque(k for k in keys if not waiting[k] and k not in session.outcomes)
    running: dict[Future[StepOutcome], str] = {}

    def spec_of(key: str) -> StepSpec:
        return asset_spec(graph.assets[key],
                          tuple(u for u in graph.upstream[key] if u in selected), partition_key)

    def settled(first: str) -> None:
        """Release what waited for ``first``; settle at once what cannot run."""
        stack = [first]
        while stack:
            key = stack.pop()
            for down in graph.downstream[key]:
                if down not in selected or down in session.outcomes:
                    continue
                waiting[down].discard(key)
                if waiting[down]:
                    continue
                blocked = [up for up in graph.upstream[down]
                           if up in selected and not session.outcomes[up].ok]
                if not blocked:
                    ready.append(down)
                    continue
                reason = f"upstream '{blocked[0]}' {session.outcomes[blocked[0]].status}"
                status = (StepStatus.FALLBACK
                          if isinstance(graph.assets[down].options.fallback, LastGood)
                          else StepStatus.SKIPPED)
                if session.canceled.is_set():
                    status, reason = StepStatus.CANCELED, "the run was canceled"
                settle(session, spec_of(down), status, reason=reason, seq=session.next_seq())
                stack.append(down)

    def cancel_pending() -> None:
        """The run was canceled: every asset not started yet is canceled now, without
        waiting for the running ones (which may never end, in abandoned threads)."""
        ready.clear()
        busy = set(running.values())
        for key in keys:
            if key not in session.outcomes and key not in busy:
                settle(session, spec_of(key), StepStatus.CANCELED,
                       reason="the run was canceled", seq=session.next_seq())

    def start(key: str) -> Future[StepOutcome]:
        asset = graph.assets[key]
        inputs: dict[str, Any] = {}
        fallback_inputs: set[str] = set()
        upstream_ids: dict[str, Any] = {}
        for up in graph.upstream[key]:
            if (key, up) in external:
                value = external[key, up].value
                upstream_ids.update(external[key, up].materialization_ids)
            else:
                outcome = session.outcomes[up]
                value, upstream_ids[up] = outcome.value, outcome.value_id
                if outcome.status == StepStatus.FALLBACK:
                    fallback_inputs.add(up)
            if up in asset.inputs:
                inputs[up] = value
        spec = spec_of(key)
        before = history.steps.get(key) if history is not None else None
        return session.executor.start_lane(lambda: run_step(
            session, spec, (), inputs, fallback_inputs=frozenset(fallback_inputs),
            materialize=upstream_ids, recorded=before))

    for key in recorded:
        settled(key)
    canceled = False
    while ready or running:
        if not canceled and session.canceled.is_set():
            canceled = True
            cancel_pending()
        while ready:
            key = ready.popleft()
            running[start(key)] = key
        if not running:
            break
        # wake up now and then to notice a cancel while long steps run
        done, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
        for future in done:
            key = running.pop(future)
            future.result()  # an engine or store error stops the run here
            settled(key)
