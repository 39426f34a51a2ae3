"""Start (or resume) a run, drive it to its end, and record how it ended.

The run's driver (a flow's body, or the asset scheduler) runs in its own thread while the
calling thread waits, so that Ctrl-C lands in one known place: it sets the cancel flag,
steps not yet started are canceled, and the run is recorded as canceled. With an executor
that runs in the caller's thread (inline) everything stays in the calling thread (for
debuggers).

The process that runs a run holds its lease (``engine/lease.py``) from the commit that
starts or takes it over to the one that ends it; a heartbeat renews it meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from legato.capture import parse_level, routing
from legato.definitions.asset import AssetDefinition
from legato.definitions.definitions import Definitions
from legato.definitions.flow import FlowDefinition
from legato.definitions.recording import record_run_definitions
from legato.definitions.runtime import active_flow
from legato.definitions.task import TaskDefinition
from legato.engine.asset_plan import run_assets
from legato.engine.external import check_external
from legato.engine.flow_runtime import FlowRunner
from legato.engine.inflight import journal, read_in_flight
from legato.engine.lease import (
    Heartbeat,
    may_take_over,
    new_owner,
    owner_is_dead,
    owner_process,
    takeover_data,
)
from legato.engine.partitioned import check_run_partition
from legato.engine.replay import RunHistory, cut_short
from legato.engine.results import RunResult
from legato.engine.session import Observer, RunSession, StepOutcome
from legato.engine.stored import load_step_value, source_of, stored_result
from legato.errors import (
    IllegalTransition,
    NonDeterminismError,
    ParamsError,
    RunCanceled,
    RunInProgressError,
    StoreError,
    ValueStoreError,
)
from legato.executors.base import describe
from legato.executors.registry import find_factory, make_executor
from legato.graph.selection import Selection, resolve_selection
from legato.scheduler.logical import LogicalTime
from legato.settings import Settings, load_settings
from legato.store.events import RUN_ENDED, RunStarted, RunTarget, StepCanceled
from legato.store.records import (
    OK_STEP_STATUSES,
    Event,
    Lease,
    RunRecord,
    RunStatus,
    StepStatus,
    StoredValue,
)
from legato.store.sql_store import SqlStore
from legato.values.value_store import ValueStore

CANCEL_GRACE_S = 3.0
JOURNALS = "inflight"
"""The folder, in legato's home, of the in-flight journals (``engine/inflight.py``)."""


class _UnobservedFailureError(Exception):
    """Submitted steps failed and the flow never looked at them: the run failed."""


class Runner:
    """Runs flows and asset selections against the store named by ``settings``."""

    def __init__(self, settings: Settings | None = None, *, observer: Observer | None = None,
                 store: SqlStore | None = None):
        self.settings = settings or load_settings()
        self.observer = observer
        self.store = store
        """A store to share between runs (a worker's); by default each run opens its own."""

    # -- public entry points ----------------------------------------------------------

    def run(self, target: FlowDefinition[Any, Any] | TaskDefinition[Any, Any],
            params: Mapping[str, Any], *, source: str | None = None,
            idempotency_key: str | None = None, history: RunHistory | None = None,
            claimed: RunRecord | None = None, claimed_at: float | None = None) -> RunResult:
        """Run a flow (or a task as a one-step flow). With ``idempotency_key``, a second
        submission gets the run of the first; with ``history``, the run resumes; with
        ``claimed``, this is a queued run its worker claimed (``claimed_at``: the
        ``time.monotonic()`` taken just before the claim's transaction began, from which the
        lease is measured; unknown, the store is asked before the first body)."""
        started_as = {"runnable": "task"} if isinstance(target, TaskDefinition) else {}
        runs = target
        if isinstance(target, TaskDefinition):
            task = target

            async def call_async(**kw: Any) -> Any:
                return await task(**kw)

            target = FlowDefinition(name=task.name,
                                    fn=call_async if task.is_async else task,
                                    description=task.description, location=task.location,
                                    is_async=task.is_async)
            signature_of: Callable[..., Any] = task.fn
        elif isinstance(target, FlowDefinition):
            signature_of = target.fn
        elif isinstance(target, AssetDefinition):
            raise ParamsError(f"'{target.key}' is an asset: materialize it instead",
                              hint=f"lg.materialize([{target.key}]) or legato materialize "
                              f"{target.key}")
        else:
            raise ParamsError(f"lg.run() takes a flow or a task, not {target!r}")
        params = dict(params)
        try:
            inspect.signature(signature_of).bind(**params)
        except TypeError as error:
            raise ParamsError(f"flow '{target.name}' cannot take these parameters: {error}",
                              hint="pass each parameter of the flow by name") from None
        flow = target
        if idempotency_key is not None and history is None and claimed is None:
            from legato.engine.resume import submitted_before

            existing = submitted_before(self, idempotency_key, "flow", flow, params)
            if existing is not None:
                return existing

        def drive(session: RunSession) -> Any:
            runner = FlowRunner(session, flow.name)
            token = active_flow.set(runner)
            try:
                output = (asyncio.run(flow.fn(**params)) if flow.is_async
                          else flow.fn(**params))
            finally:
                active_flow.reset(token)
                runner.wait_all()
            if runner.diverged is not None:  # even if the flow's body caught it
                raise runner.diverged
            failed = runner.unobserved_failures()
            if failed:
                names = ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
                raise _UnobservedFailureError(
                    f"{len(failed)} submitted step(s) failed and the flow never looked at "
                    f"their results: {names}")
            return output

        return self._execute("flow", flow.name, params, source or source_of([signature_of]),
                             drive, strict_steps=False, history=history, claimed=claimed,
                             claimed_at=claimed_at, idempotency_key=idempotency_key,
                             prepare=lambda _: started_as, runs=runs)

    def materialize(self, assets: Definitions | Iterable[AssetDefinition[Any, Any]],
                    selection: Selection | None = None, *,
                    params: Mapping[str, Any] | None = None,
                    history: RunHistory | None = None,
                    claimed: RunRecord | None = None, claimed_at: float | None = None,
                    partition_key: str | None = None) -> RunResult:
        """Materialize a selection of assets; its partitioned assets compute
        ``partition_key`` (``engine/partitioned.py``)."""
        defs = assets if isinstance(assets, Definitions) else Definitions(assets=list(assets))
        keys = resolve_selection(defs.graph, selection)
        check_run_partition(defs.graph, keys, partition_key)
        for name in {defs.assets[k].options.executor for k in keys if k in defs.assets}:
            if name is not None:
                find_factory(name)  # an unknown one fails now, before the run starts

        def prepare(session: RunSession) -> dict[str, Any]:
            # fails early if inputs are missing; a resumed run keeps the inputs it started with
            inputs = check_external(session, defs.graph, keys, partition_key)
            return {"selection": keys, "inputs": inputs, "partition_key": partition_key}

        def drive(session: RunSession) -> None:
            run_assets(session, defs.graph, keys, partition_key)

        target = RunTarget.assets(keys).text
        source = defs.source or source_of([a.fn for a in defs.assets.values()])
        return self._execute("assets", target, dict(params or {}), source, drive,
                             strict_steps=True, prepare=prepare, history=history,
                             claimed=claimed, claimed_at=claimed_at, given=defs)

    def resume(self, run_id: str, *, definitions: Any = None, wait: bool = False,
               restart: bool = False) -> RunResult:
        """Resume a run whose process died (``engine/resume.py``)."""
        from legato.engine.resume import resume_run

        return resume_run(self, run_id, definitions=definitions, wait=wait, restart=restart)

    # -- the run lifecycle ------------------------------------------------------------

    def _execute(self, kind: str, target: str, params: dict[str, Any], source: str | None,
                 drive: Callable[[RunSession], Any], *, strict_steps: bool,
                 prepare: Callable[[RunSession], dict[str, Any]] | None = None,
                 history: RunHistory | None = None,
                 idempotency_key: str | None = None,
                 claimed: RunRecord | None = None,
                 claimed_at: float | None = None,
                 given: Definitions | None = None, runs: object = None) -> RunResult:
        settings = self.settings
        store = self.store or SqlStore(settings.store_url, durability=settings.durability)
        values = ValueStore(settings.value_dir, allow_pickle=settings.allow_pickle,
                            fsync=settings.durability == "full")
        executor = None
        heartbeat = None
        canceled = True  # until the run ends normally: on an error, stop what still runs
        try:
            # the definitions' catalog, for processes that never import them (one lookup
            # when it is current already; nothing at all for the next run of a shared store)
            record_run_definitions(store, source, given=given, runs=runs)
            executor = make_executor(settings.executor, settings.max_parallel,
                                     settings.executors)
            session = RunSession(store=store, values=values, executor=executor,
                                 executor_name=settings.executor,
                                 make_executor=lambda name: make_executor(
                                     name, settings.max_parallel, settings.executors),
                                 tag_limits=settings.concurrency, params=params,
                                 observer=self.observer, history=history,
                                 log_limit=settings.max_log_bytes,
                                 run_id=(history.run.run_id if history
                                         else claimed.run_id if claimed else None))
            session.journal = journal(settings.home_dir / JOURNALS)
            session.logical = _logical_time(store, history, claimed)
            extra = prepare(session) if prepare is not None else {}
            owner, ttl = new_owner(), settings.lease_ttl
            # when the lease began, by this process's clock: taken before the transaction
            # that began it, so that the lease is never thought fresher than it is
            since = time.monotonic()
            if claimed is not None:
                owner, token = _begin_claimed(session, claimed, extra, ttl)
                since = 0.0 if claimed_at is None else claimed_at  # unknown: ask the store
            elif history is None:
                started = _start(session, owner, ttl, kind=kind, target=target, params=params,
                                 source=source, idempotency_key=idempotency_key, **extra)
                if started is not None:  # the same key was submitted at the same moment
                    return stored_result(settings, started)
                token = 1
            else:
                token = _take_over(session, history, owner, ttl,
                                   settings.home_dir / JOURNALS)
                # what a writer killed in the middle of a value left behind
                values.remove_stale_temporary_files(session.run_id)
            session.lease = Lease(session.run_id, owner, token, ttl, since)
            heartbeat = Heartbeat(store, session.lease, session.lease_lost).start()
            with routing(parse_level(settings.log_level)):
                output, error = _drive(session, drive)
            if session.lost is not None:
                raise session.lost
            status, message = _conclude(session, error, strict_steps)
            canceled = status == RunStatus.CANCELED
            leftovers = canceled or history is not None

            def ending() -> tuple[list[Event], list[StoredValue]]:
                unfinished = _cancel_unfinished(session, canceled) if leftovers else []
                kept = _keep_output(session, output) if status == RunStatus.SUCCEEDED else None
                return ([*unfinished, session.event(RUN_ENDED[status](
                    error=message, output_value_id=kept.value_id if kept else None))],
                    [kept] if kept else [])

            heartbeat.stop()
            session.end(ending)
            if isinstance(error, NonDeterminismError):
                raise error
        finally:
            if heartbeat is not None:
                heartbeat.stop()
            if executor is not None:
                executor.close(cancel=canceled)
                session.close_executors(cancel=canceled)
            if store is not self.store:
                store.close()
        return RunResult(
            run_id=session.run_id, status=status, steps=session.step_results(),
            output=output if status == RunStatus.SUCCEEDED else None, error=message,
            _values={k: o.value for k, o in session.outcomes.items() if o.ok},
            _load=lambda key: load_step_value(settings, session.run_id, key),
        )


def _start(session: RunSession, owner: str, ttl: float, *, idempotency_key: str | None,
           **data: Any) -> RunRecord | None:
    """Record the run's start, leased to ``owner``. None when started; the run that has the
    same idempotency key when another process started it first."""
    try:
        session.record([session.event(RunStarted(owner=owner, lease_s=ttl,
                                                 idempotency_key=idempotency_key, **data))])
    except IllegalTransition:
        existing = (session.store.find_run_by_idempotency_key(idempotency_key)
                    if idempotency_key is not None else None)
        if existing is None:
            raise
        return existing
    return None


def _begin_claimed(session: RunSession, run: RunRecord, data: dict[str, Any], ttl: float
                   ) -> tuple[str, int]:
    """A queued run its worker claimed begins: recorded under the worker's lease (which
    ``queue.claim`` gave it); the lease's owner and token. Deferred: the claim already made
    the run running, so its start rides with its first step's commit (a transaction less
    per run; a worker that dies before that commit leaves a run that is resumed all the
    same)."""
    if run.lease_owner is None or run.lease_token is None:
        raise RunInProgressError(f"run {run.run_id} was not claimed: it has no lease")
    lease = Lease(run.run_id, run.lease_owner, run.lease_token, ttl)
    session.store.defer(session.event(RunStarted(claimed=True, **data)), lease=lease)
    return run.lease_owner, run.lease_token


def _take_over(session: RunSession, history: RunHistory, owner: str, ttl: float,
               journals: Path) -> int:
    """Take the lease of a run being resumed (compare-and-set); its new fencing token. The
    attempts its former holder was running are noted (``session.cut_short``): each is
    recorded as failed when the resumed run reaches its step."""
    run = history.run
    claim = may_take_over(run)
    dead = owner_is_dead(run.lease_owner)
    data = takeover_data(run, owner, ttl, claim.reason)
    try:
        session.record([session.event(data)])
    except IllegalTransition:
        raise RunInProgressError(
            f"run {run.run_id} was taken over by another process just now",
            hint=f"see legato show {run.run_id}") from None
    process = owner_process(run.lease_owner)
    in_flight = (read_in_flight(journals, process, run.run_id)
                 if dead and process is not None else [])
    session.cut_short = cut_short(history, dead=dead, reason=claim.reason,
                                  in_flight=in_flight)
    return data.token


def _keep_output(session: RunSession, output: Any) -> StoredValue | None:
    """Store what the flow returned, so that a second submission can be given it; a value
    that cannot be stored is not kept (the run still succeeds)."""
    if output is None:
        return None
    try:
        stored, _ = session.values.put(f"{session.run_id}/@output", output)
    except ValueStoreError:
        return None
    return stored


def _drive(session: RunSession, drive: Callable[[RunSession], Any]
           ) -> tuple[Any, BaseException | None]:
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["output"] = drive(session)
        except BaseException as error:
            box["error"] = error
        finally:
            done.set()

    if session.executor.capabilities.in_caller_thread:
        work()
        if isinstance(box.get("error"), KeyboardInterrupt):
            session.canceled.set()
    else:
        driver = threading.Thread(target=contextvars.copy_context().run, args=(work,),
                                  name="legato-driver", daemon=True)
        driver.start()
        # Wait on an event, not on driver.join(): a join interrupted by Ctrl-C leaves the
        # thread looking finished (CPython gh-90882), and the grace period would be lost.
        try:
            while not done.wait(0.25):
                pass
        except KeyboardInterrupt:
            session.canceled.set()
            with contextlib.suppress(KeyboardInterrupt):  # pressed again: stop waiting
                done.wait(CANCEL_GRACE_S)  # let steps about to finish record it
    return box.get("output"), box.get("error")


def _conclude(session: RunSession, error: BaseException | None, strict_steps: bool
              ) -> tuple[RunStatus, str | None]:
    """The run's status and a one-line summary of what went wrong."""
    if session.canceled.is_set() or isinstance(error, RunCanceled | KeyboardInterrupt):
        session.canceled.set()
        return RunStatus.CANCELED, "canceled by the user"
    if isinstance(error, StoreError):
        raise error
    if isinstance(error, _UnobservedFailureError):
        return RunStatus.FAILED, str(error)
    if error is not None:
        return RunStatus.FAILED, describe(error)
    if strict_steps:
        bad = {key: o for key, o in session.outcomes.items()
               if o.status not in OK_STEP_STATUSES or o.status == StepStatus.FALLBACK}
        if bad:
            parts = []
            for status in (StepStatus.FAILED, StepStatus.FALLBACK, StepStatus.SKIPPED,
                           StepStatus.CANCELED):
                keys = [k for k, o in bad.items() if o.status == status]
                if keys:
                    parts.append(f"{len(keys)} {status} ({', '.join(keys[:5])})")
            return RunStatus.FAILED, "; ".join(parts)
    return RunStatus.SUCCEEDED, None


def _cancel_unfinished(session: RunSession, canceled: bool) -> list[Event]:
    """Events that cancel every step still running (their threads are abandoned) or, in a
    resumed run, left unfinished by the process that died and not called again; called
    while no step can write, so that none finishes in between."""
    session.store.writer.flush()  # steps whose start was deferred
    unfinished = [s for s in session.store.get_steps(session.run_id)
                  if s.status in (StepStatus.RUNNING, StepStatus.RETRYING)]
    reason = ("the run was canceled" if canceled
              else "the resumed run did not call it again")
    now = time.time()
    for step in unfinished:
        session.finish_step(step.step_key, StepOutcome(
            status=StepStatus.CANCELED, attempts=step.attempts, reason=reason,
            started_at=step.started_at, ended_at=now))
    return [session.event(StepCanceled(name=s.name, kind=s.kind, seq=s.seq, reason=reason,
                                       started_at=s.started_at), s.step_key, s.attempts)
            for s in unfinished]


def _logical_time(store: SqlStore, history: RunHistory | None,
                  claimed: RunRecord | None) -> LogicalTime | None:
    """A scheduled run's tick and data interval, as recorded when it was queued: from the
    history of a resumed run, or (a claimed run of a trigger) from its ``run_queued``."""
    if history is not None:
        return LogicalTime.from_data(history.started)
    if claimed is None or claimed.trigger_key is None:
        return None
    for event in store.get_events(claimed.run_id):
        if event.kind == "run_queued":
            return LogicalTime.from_data(event.data)
    return None
