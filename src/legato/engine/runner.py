"""Start a run, drive it to its end, and record how it ended.

The run's driver (a flow's body, or the asset scheduler) runs in its own thread while the
calling thread waits, so that Ctrl-C lands in one known place: it sets the cancel flag,
steps not yet started are canceled, and the run is recorded as canceled. With the inline
executor everything stays in the calling thread (for debuggers)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from legato.definitions.asset import AssetDefinition
from legato.definitions.definitions import Definitions
from legato.definitions.flow import FlowDefinition
from legato.definitions.runtime import active_flow
from legato.definitions.task import TaskDefinition
from legato.engine.asset_plan import check_external, run_assets
from legato.engine.capture import routing
from legato.engine.flow_runtime import FlowRunner
from legato.engine.results import RunResult
from legato.engine.session import Observer, RunSession, StepOutcome
from legato.errors import ParamsError, RunCanceled, StoreError
from legato.executors.base import describe
from legato.executors.registry import make_executor
from legato.graph.selection import Selection, resolve_selection
from legato.settings import Settings, load_settings
from legato.store.records import OK_STEP_STATUSES, Event, RunStatus, StepStatus
from legato.store.sql_store import SqlStore
from legato.values.value_store import ValueStore

CANCEL_GRACE_S = 3.0


class _UnobservedFailureError(Exception):
    """Submitted steps failed and the flow never looked at them: the run failed."""


class Runner:
    """Runs flows and asset selections against the store named by ``settings``."""

    def __init__(self, settings: Settings | None = None, *, observer: Observer | None = None):
        self.settings = settings or load_settings()
        self.observer = observer

    # -- public entry points ----------------------------------------------------------

    def run(self, target: FlowDefinition[Any, Any] | TaskDefinition[Any, Any],
            params: Mapping[str, Any], *, source: str | None = None) -> RunResult:
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

        def drive(session: RunSession) -> Any:
            runner = FlowRunner(session)
            token = active_flow.set(runner)
            try:
                output = (asyncio.run(flow.fn(**params)) if flow.is_async
                          else flow.fn(**params))
            finally:
                active_flow.reset(token)
                runner.wait_all()
            failed = runner.unobserved_failures()
            if failed:
                names = ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
                raise _UnobservedFailureError(
                    f"{len(failed)} submitted step(s) failed and the flow never looked at "
                    f"their results: {names}")
            return output

        return self._execute("flow", flow.name, params, source, drive, strict_steps=False)

    def materialize(self, assets: Definitions | Iterable[AssetDefinition[Any, Any]],
                    selection: Selection | None = None, *,
                    params: Mapping[str, Any] | None = None) -> RunResult:
        defs = assets if isinstance(assets, Definitions) else Definitions(assets=list(assets))
        keys = resolve_selection(defs.graph, selection)

        def prepare(session: RunSession) -> None:
            check_external(session, defs.graph, keys)  # fails early if inputs are missing

        def drive(session: RunSession) -> None:
            run_assets(session, defs.graph, keys)

        target = ",".join(keys) if len(keys) <= 8 else f"{len(keys)} assets"
        return self._execute("assets", target, dict(params or {}), defs.source, drive,
                             strict_steps=True, prepare=prepare)

    # -- the run lifecycle ------------------------------------------------------------

    def _execute(self, kind: str, target: str, params: dict[str, Any], source: str | None,
                 drive: Callable[[RunSession], Any], *, strict_steps: bool,
                 prepare: Callable[[RunSession], None] | None = None) -> RunResult:
        settings = self.settings
        store = SqlStore(settings.store_url, durability=settings.durability)
        values = ValueStore(settings.value_dir, allow_pickle=settings.allow_pickle,
                            fsync=settings.durability == "full")
        executor = None
        canceled = True  # until the run ends normally: on an error, stop what still runs
        try:
            executor = make_executor(settings.executor, settings.max_parallel)
            session = RunSession(store=store, values=values, executor=executor,
                                 tag_limits=settings.concurrency, params=params,
                                 observer=self.observer)
            if prepare is not None:
                prepare(session)
            session.record([session.event("run_started", kind=kind, target=target,
                                          params=params, tags=[], source=source)])
            with routing():
                output, error = _drive(session, drive)
            status, message = _conclude(session, error, strict_steps)
            canceled = status == RunStatus.CANCELED

            def ending() -> list[Event]:
                unfinished = _cancel_unfinished(session) if canceled else []
                return [*unfinished, session.event(f"run_{status}", error=message)]

            session.end(ending)
        finally:
            if executor is not None:
                executor.close(cancel=canceled)
            store.close()
        return RunResult(
            run_id=session.run_id, status=status, steps=session.step_results(),
            output=output if status == RunStatus.SUCCEEDED else None, error=message,
            _values={k: o.value for k, o in session.outcomes.items() if o.ok},
            _load=lambda key: load_step_value(settings, session.run_id, key),
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

    if session.executor.name == "inline":
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


def _cancel_unfinished(session: RunSession) -> list[Event]:
    """Events that cancel every step still running (their threads are abandoned); called
    while no step can write, so that none finishes in between."""
    session.store.writer.flush()  # steps whose start was deferred
    unfinished = [s for s in session.store.get_steps(session.run_id)
                  if s.status in (StepStatus.RUNNING, StepStatus.RETRYING)]
    reason = "the run was canceled"
    now = time.time()
    for step in unfinished:
        session.finish_step(step.step_key, StepOutcome(
            status=StepStatus.CANCELED, attempts=step.attempts, reason=reason,
            started_at=step.started_at, ended_at=now))
    return [session.event("step_canceled", s.step_key, s.attempts, name=s.name, kind=s.kind,
                          seq=s.seq, reason=reason, started_at=s.started_at)
            for s in unfinished]
