"""Resume a run whose process died, restart one from scratch, and answer a second
submission of an idempotency key.

Resuming loads the run's definitions again from where it recorded them (``runs.source``),
takes its lease over, and drives it with its recorded history: steps whose end was
committed do not run again (their values come from the store); a flow replays its body;
the step that was in flight runs again, with the same idempotency key.

A worker resumes runs by itself with ``resume_expired`` (the runs whose lease expired).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from legato.definitions.asset import AssetDefinition
from legato.definitions.definitions import Definitions
from legato.definitions.flow import FlowDefinition
from legato.definitions.task import TaskDefinition
from legato.engine.lease import expired_runs, may_take_over, new_owner, takeover_data
from legato.engine.replay import load_history
from legato.engine.results import RunResult
from legato.engine.stored import stored_result
from legato.errors import (
    DefinitionError,
    ParamsError,
    RunInProgressError,
)
from legato.store.events import RunCanceled, RunTarget, StepCanceled, event
from legato.store.records import Lease, RunRecord, RunStatus, StepStatus
from legato.store.sql_store import SqlStore

if TYPE_CHECKING:
    from legato.engine.runner import Runner

Runnable = FlowDefinition[Any, Any] | TaskDefinition[Any, Any]
WAIT_STEP_S = 5.0


def read_run(runner: Runner, run_id: str) -> RunRecord:
    settings = runner.settings
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        return store.get_run(run_id)


def resume_run(runner: Runner, run_id: str, *, definitions: Any = None, wait: bool = False,
               restart: bool = False) -> RunResult:
    """Resume ``run_id`` (an id, a unique prefix, or ``last``). A run that has ended is left
    as it is, and its result returned. ``wait`` waits for a live holder's lease to expire
    instead of raising ``RunInProgressError``. ``restart`` starts a new run of the same
    target with the same parameters instead (and cancels the old one if it still runs)."""
    run = read_run(runner, run_id)
    if restart:
        return _restart(runner, run, definitions, wait)
    if run.status != RunStatus.RUNNING:
        return stored_result(runner.settings, run)
    target = _target(run, definitions)
    run = _wait_for_lease(runner, run, wait)
    if run.status != RunStatus.RUNNING:
        return stored_result(runner.settings, run)
    settings = runner.settings
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        history = load_history(store, run)
    if isinstance(target, Definitions):
        return runner.materialize(target, _selection(run, history.started), params=run.params,
                                  history=history, partition_key=run.partition_key)
    return runner.run(target, run.params, source=run.source, history=history)


def execute_claimed(runner: Runner, run: RunRecord, *, definitions: Any = None,
                    claimed_at: float | None = None) -> RunResult:
    """Execute a queued run that this worker claimed (``store/queue.claim``): its flow with
    its parameters, or its asset selection. The definitions are loaded from where the run
    was requested (``runs.source``) unless given. ``claimed_at`` is the ``time.monotonic()``
    taken just before the claim's transaction began: the lease is measured from it (loading
    the definitions may have taken longer than the lease lives)."""
    target = _target(run, definitions)
    if isinstance(target, Definitions):
        settings = runner.settings
        with SqlStore(settings.store_url, durability=settings.durability) as store:
            started = load_history(store, run).started
        return runner.materialize(target, _selection(run, started), params=run.params,
                                  claimed=run, claimed_at=claimed_at,
                                  partition_key=run.partition_key)
    return runner.run(target, run.params, source=run.source, claimed=run,
                      claimed_at=claimed_at)


def resumable_runs(store: SqlStore, *, limit: int = 100) -> list[RunRecord]:
    """Runs still marked running that may be taken over now: their lease expired, or their
    holder was a process of this host that has died."""
    found = {run.run_id: run for run in expired_runs(store, limit=limit)}
    for run in store.list_runs(status=RunStatus.RUNNING, limit=limit):
        if run.run_id not in found and may_take_over(run).allowed:
            found[run.run_id] = run
    return sorted(found.values(), key=lambda run: run.created_at)[:limit]


def resume_expired(runner: Runner, *, limit: int = 100) -> list[RunResult]:
    """Resume every run that may be taken over (what a worker does now and then). A run
    that another process takes over first is left to it."""
    settings = runner.settings
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        runs = resumable_runs(store, limit=limit)
    results = []
    for run in runs:
        try:
            results.append(resume_run(runner, run.run_id))
        except RunInProgressError:
            continue
    return results


def submitted_before(runner: Runner, key: str, kind: str, flow: FlowDefinition[Any, Any],
                     params: dict[str, Any]) -> RunResult | None:
    """The run already submitted with idempotency key ``key``, as it stands (resumed first
    if its process died); None when the key is new."""
    settings = runner.settings
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        run = store.find_run_by_idempotency_key(key)
    if run is None:
        return None
    same_params = run.params == json.loads(json.dumps(params, default=str))
    if run.kind != kind or run.target != flow.name or not same_params:
        what = "other parameters" if run.target == flow.name else f"{run.kind} '{run.target}'"
        raise ParamsError(
            f"idempotency key '{key}' was already used by run {run.run_id}, with {what}",
            hint="a key names one submission: use a new key for a different one")
    if run.status == RunStatus.RUNNING and may_take_over(run).allowed:
        return resume_run(runner, run.run_id, definitions=flow)
    return stored_result(settings, run)


# -- the parts ----------------------------------------------------------------------------


def _target(run: RunRecord, given: Any) -> Runnable | Definitions:
    """The flow (or task) a flow run runs, or the definitions of an asset run."""
    defs = _definitions(run, given)
    if isinstance(defs, FlowDefinition | TaskDefinition):
        return defs
    where = f"in {run.source}" if given is None and run.source else "in the definitions given"
    if run.kind == "assets":
        return defs
    found = defs.flows.get(run.target) or defs.tasks.get(run.target)
    if found is None:
        raise DefinitionError(
            f"cannot resume run {run.run_id}: flow '{run.target}' is no longer defined "
            f"{where}",
            hint="restore the flow's definition, or pass the definitions to "
            "lg.resume(run_id, definitions=...)")
    return found


def _definitions(run: RunRecord, given: Any) -> Definitions | Runnable:
    if isinstance(given, Definitions | FlowDefinition | TaskDefinition):
        return given
    if given is not None:
        return Definitions(assets=[a for a in given if isinstance(a, AssetDefinition)])
    if run.source is None:
        raise DefinitionError(
            f"cannot resume run {run.run_id}: it did not record where its definitions came "
            "from (they were built in code)",
            hint="resume it from Python, giving them: lg.resume(run_id, definitions=...)")
    from legato.definitions.loader import load_from_source

    try:
        return load_from_source(run.source)
    except DefinitionError as error:
        raise DefinitionError(
            f"cannot resume run {run.run_id}: its definitions ({run.source}) cannot be "
            f"loaded: {error}",
            hint="restore them, or run from the project's folder (a module is imported "
            "from there)") from None


def _selection(run: RunRecord, started: dict[str, Any]) -> list[str]:
    return list(RunTarget.read(run.kind, run.target, started.get("selection")).selection)


def _wait_for_lease(runner: Runner, run: RunRecord, wait: bool) -> RunRecord:
    claim = may_take_over(run)
    while not claim.allowed:
        if run.status != RunStatus.RUNNING:
            return run
        if not wait:
            raise RunInProgressError(
                f"run {run.run_id} cannot be resumed now: {claim.reason}",
                hint="it resumes once that process stops renewing its lease: try again then, "
                "or wait for it (legato resume --wait, lg.resume(run_id, wait=True))")
        time.sleep(min(max(claim.wait_s, 0.0) + 0.05, WAIT_STEP_S))
        run = read_run(runner, run.run_id)
        claim = may_take_over(run)
    return run


def _restart(runner: Runner, run: RunRecord, definitions: Any, wait: bool) -> RunResult:
    """A new run of the same flow or assets, with the same parameters."""
    target = _target(run, definitions)
    if run.status == RunStatus.RUNNING:
        run = _wait_for_lease(runner, run, wait)
        if run.status == RunStatus.RUNNING:
            _cancel(runner, run, "restarted from scratch as a new run")
    if isinstance(target, Definitions):
        with SqlStore(runner.settings.store_url) as store:
            started = load_history(store, run).started
        return runner.materialize(target, _selection(run, started), params=run.params,
                                  partition_key=run.partition_key)
    return runner.run(target, run.params, source=run.source)


def _cancel(runner: Runner, run: RunRecord, reason: str) -> None:
    """Take a run over only to end it as canceled, with its unfinished steps."""
    settings = runner.settings
    owner, now = new_owner(), time.time()
    data = takeover_data(run, owner, settings.lease_ttl, may_take_over(run).reason)
    lease = Lease(run.run_id, owner, data.token, settings.lease_ttl)
    with SqlStore(settings.store_url, durability=settings.durability) as store:
        store.commit([event(data, run.run_id, at=now)])
        unfinished = [s for s in store.get_steps(run.run_id)
                      if s.status in (StepStatus.RUNNING, StepStatus.RETRYING)]
        store.commit([
            *(event(StepCanceled(name=s.name, kind=s.kind, seq=s.seq, reason=reason,
                                 started_at=s.started_at), run.run_id, s.step_key,
                    s.attempts, at=now) for s in unfinished),
            event(RunCanceled(error=reason), run.run_id, at=now),
        ], lease=lease)
