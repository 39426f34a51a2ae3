"""Run a selection of assets: each starts once all its upstream assets are settled.

Upstream assets outside the selection give their latest materialization (a resumed run, the
ones it started with). When an upstream failed, a downstream asset is skipped with the
reason, or, with ``fallback=lg.last_good``, serves its last good value; independent
branches carry on. A resumed run does not run again the assets whose end it recorded."""

from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

from legato.definitions.asset import AssetDefinition
from legato.definitions.options import LastGood
from legato.engine.replay import RunHistory, recorded_outcome
from legato.engine.session import RunSession, StepOutcome, StepSpec
from legato.engine.step_runner import run_step, settle
from legato.errors import SelectionError
from legato.graph.asset_graph import AssetGraph
from legato.store.records import MaterializationRecord, StepStatus, StoredValue


@dataclass(frozen=True, slots=True)
class ExternalInput:
    """An upstream asset outside the selection: its latest materialization."""

    value: Any
    materialization_id: str


def asset_spec(asset: AssetDefinition[Any, Any], upstream: tuple[str, ...]) -> StepSpec:
    return StepSpec(
        key=asset.key, name=asset.key, kind="asset", fn=asset.fn, options=asset.options,
        wants_ctx=asset.wants_ctx, is_async=asset.is_async, upstream=upstream,
        code_version=lambda: asset.code_version, tags=asset.options.tags,
    )


def _external(session: RunSession, graph: AssetGraph, keys: list[str]
              ) -> dict[str, tuple[MaterializationRecord, StoredValue, bool]]:
    """The latest materialization of each upstream asset outside the selection (for a
    resumed run, the one it started with), and whether a selected asset takes its value
    (``deps=`` only orders); raises if one is missing."""
    selected = set(keys)
    pinned = dict(session.history.started.get("inputs") or {}) if session.history else {}
    found: dict[str, tuple[MaterializationRecord, StoredValue, bool]] = {}
    for key in keys:
        for up in graph.upstream[key]:
            if up in selected:
                continue
            wanted = up in graph.assets[key].inputs
            if up in found:
                known = found[up]
                found[up] = (known[0], known[1], known[2] or wanted)
                continue
            record = (session.store.get_materialization(pinned[up]) if up in pinned
                      else session.store.latest_materialization(up))
            stored = session.store.get_value(record.value_id) if record else None
            if record is None or stored is None:
                raise SelectionError(
                    f"asset '{key}' needs '{up}', which has never been materialized",
                    hint=f"add it to the selection, e.g. '*{key}' for {key} and everything "
                    "upstream of it",
                )
            found[up] = (record, stored, wanted)
    return found


def check_external(session: RunSession, graph: AssetGraph, keys: list[str]
                   ) -> dict[str, str]:
    """Fail before the run starts when an upstream asset outside the selection was never
    materialized (without loading any value); else the materialization ids it will use."""
    return {up: found[0].materialization_id
            for up, found in _external(session, graph, keys).items()}


def load_external(session: RunSession, graph: AssetGraph, keys: list[str]
                  ) -> dict[str, ExternalInput]:
    """Upstream assets outside the selection: their latest materialization, and its value
    when a selected asset takes it as an input."""
    return {up: ExternalInput(session.values.get(stored) if wanted else None,
                              record.materialization_id)
            for up, (record, stored, wanted) in _external(session, graph, keys).items()}


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


def run_assets(session: RunSession, graph: AssetGraph, keys: list[str]) -> None:
    selected = set(keys)
    external = load_external(session, graph, keys)
    history = session.history
    recorded = _recorded(session, graph, keys, history) if history is not None else []
    waiting = {k: {up for up in graph.upstream[k] if up in selected} for k in keys}
    ready: deque[str] = deque(k for k in keys if not waiting[k] and k not in session.outcomes)
    running: dict[Future[StepOutcome], str] = {}

    def spec_of(key: str) -> StepSpec:
        return asset_spec(graph.assets[key],
                          tuple(u for u in graph.upstream[key] if u in selected))

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
            if up in external:
                value, upstream_ids[up] = external[up].value, external[up].materialization_id
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
