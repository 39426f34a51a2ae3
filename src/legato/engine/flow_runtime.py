"""Run a flow: its body runs as ordinary Python; each task call becomes a step.

A direct call runs the step in the calling thread and returns its value (or raises
``StepFailed``). ``submit`` and ``map`` run steps in the executor's lanes and return
futures; a future passed to another task is waited for, and a failed one skips that task.
Step keys follow call order: ``fetch``, ``fetch-2``, ...; ``fetch[0]``, ``fetch[1]`` for
the items of a map. Keys and positions (``seq``) are given in the flow's own thread, at the
call, so that a resumed flow that runs again gives each call the same ones: a call whose
step finished then returns its recorded result (``engine/replay.py``)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, wait
from typing import Any

from legato.definitions.task import StepFuture, TaskDefinition
from legato.engine.replay import RecordedStep, match, recorded_outcome
from legato.engine.session import RunSession, StepOutcome, StepSpec
from legato.engine.step_runner import run_step, settle
from legato.errors import NonDeterminismError, RunCanceled, StepFailed
from legato.store.records import StepStatus


def task_spec(task: TaskDefinition[Any, Any], key: str, upstream: tuple[str, ...]) -> StepSpec:
    return StepSpec(
        key=key, name=task.name, kind="task", fn=task.fn, options=task.options,
        wants_ctx=task.wants_ctx, is_async=task.is_async, upstream=upstream,
        code_version=lambda: task.code_version, tags=task.options.tags,
    )


class FlowRunner:
    """The engine side of ``legato.definitions.runtime.FlowRuntime``."""

    def __init__(self, session: RunSession, flow_name: str = "") -> None:
        self.session = session
        self.flow_name = flow_name
        self._calls: defaultdict[str, int] = defaultdict(int)
        self._seq = itertools.count()  # positions in call order: the same when replayed
        self._lock = threading.Lock()
        self.futures: list[StepFuture[Any]] = []
        self._lanes: list[Future[Any]] = []
        self.diverged: NonDeterminismError | None = None
        """Set when a resumed flow called its tasks otherwise than the run recorded."""

    def _next_key(self, name: str) -> str:
        with self._lock:
            self._calls[name] += 1
            count = self._calls[name]
        return name if count == 1 else f"{name}-{count}"

    def _replay(self, task: TaskDefinition[Any, Any], key: str, seq: int
                ) -> tuple[RecordedStep | None, StepOutcome | None]:
        """For a resumed run: the step recorded for this call, and its outcome when it
        finished (then it does not run again)."""
        history = self.session.history
        if history is None:
            return None, None
        if self.diverged is not None:
            raise self.diverged
        try:
            recorded = match(history, self.flow_name, seq, key, task.name)
        except NonDeterminismError as error:
            self.diverged = error
            raise
        if recorded is None or not recorded.finished:
            return recorded, None
        outcome = recorded_outcome(self.session, recorded)
        if outcome is None:  # its value is lost: it was reset and runs again
            return history.steps[key], None
        self.session.finish_step(key, outcome)
        return recorded, outcome

    def _outcome_value(self, key: str, outcome: StepOutcome) -> Any:
        if outcome.ok:
            return outcome.value
        if outcome.status == StepStatus.CANCELED:
            raise RunCanceled("the run was canceled")
        if outcome.status == StepStatus.SKIPPED:
            raise StepFailed(key, f"skipped: {outcome.reason}")
        raise StepFailed(key, outcome.error or outcome.reason or str(outcome.status)) \
            from outcome.exception

    def _done(self, key: str, outcome: StepOutcome) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(self._outcome_value(key, outcome))
        except (StepFailed, RunCanceled) as error:
            future.set_exception(error)
        return future

    def _resolve(self, value: Any, upstream: list[str]) -> Any:
        if isinstance(value, StepFuture):
            upstream.append(value.step_key)
            return value.result()
        if type(value) in (list, tuple) and any(isinstance(v, StepFuture) for v in value):
            return type(value)(self._resolve(v, upstream) for v in value)
        if type(value) is dict and any(isinstance(v, StepFuture) for v in value.values()):
            return {k: self._resolve(v, upstream) for k, v in value.items()}
        return value

    def _run(self, task: TaskDefinition[Any, Any], key: str, seq: int,
             call: tuple[tuple[Any, ...], dict[str, Any]], recorded: RecordedStep | None
             ) -> Any:
        args, kwargs = call
        session = self.session
        if session.canceled.is_set():
            raise RunCanceled("the run was canceled")
        upstream: list[str] = []
        try:
            args = tuple(self._resolve(a, upstream) for a in args)
            kwargs = {k: self._resolve(v, upstream) for k, v in kwargs.items()}
        except StepFailed as failed:
            spec = task_spec(task, key, tuple(upstream))
            settle(session, spec, StepStatus.SKIPPED, seq=seq,
                   reason=f"upstream '{failed.step_key}' did not succeed")
            raise StepFailed(key, f"skipped: upstream '{failed.step_key}' did not succeed") \
                from None
        outcome = run_step(session, task_spec(task, key, tuple(upstream)), args, kwargs,
                           seq=seq, recorded=recorded)
        return self._outcome_value(key, outcome)

    def call(self, task: TaskDefinition[Any, Any], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any:
        key, seq = self._next_key(task.name), next(self._seq)
        recorded, outcome = self._replay(task, key, seq)
        if outcome is not None:
            return self._outcome_value(key, outcome)
        return self._run(task, key, seq, (args, kwargs), recorded)

    def call_async(self, task: TaskDefinition[Any, Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
        """Calling an async task: in an async flow, an awaitable that runs the step in one
        of the executor's lanes (so ``asyncio.gather`` respects ``max_parallel``); in a
        synchronous flow, where nothing could await it, the step's value."""
        # keys and positions follow call order, not scheduling order
        key, seq = self._next_key(task.name), next(self._seq)
        recorded, outcome = self._replay(task, key, seq)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if outcome is not None:
                return self._outcome_value(key, outcome)
            return self._run(task, key, seq, (args, kwargs), recorded)
        if outcome is not None:
            return asyncio.wrap_future(self._done(key, outcome))
        lane = self.session.executor.start_lane(
            lambda: self._run(task, key, seq, (args, kwargs), recorded))
        with self._lock:
            self._lanes.append(lane)
        return asyncio.wrap_future(lane)

    def _start(self, task: TaskDefinition[Any, Any], key: str, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> StepFuture[Any]:
        seq = next(self._seq)
        recorded, outcome = self._replay(task, key, seq)
        if outcome is not None:
            lane = self._done(key, outcome)
        else:
            lane = self.session.executor.start_lane(
                lambda: self._run(task, key, seq, (args, kwargs), recorded))
        future = StepFuture(key, lane)
        with self._lock:
            self.futures.append(future)
            self._lanes.append(lane)
        return future

    def wait_all(self) -> None:
        """Wait until every step the flow started has ended: a run ends after its steps,
        even when the flow's body raised before looking at them."""
        with self._lock:
            lanes = list(self._lanes)
        wait(lanes)

    def submit(self, task: TaskDefinition[Any, Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> StepFuture[Any]:
        return self._start(task, self._next_key(task.name), args, kwargs)

    def map(self, task: TaskDefinition[Any, Any], iterables: tuple[Iterable[Any], ...],
            kwargs: dict[str, Any]) -> list[StepFuture[Any]]:
        base = self._next_key(task.name)
        return [self._start(task, f"{base}[{i}]", tuple(items), kwargs)
                for i, items in enumerate(zip(*iterables, strict=True))]

    def unobserved_failures(self) -> list[str]:
        """Wait for every submitted step; the keys of those that failed without the flow
        ever looking at their result."""
        with self._lock:
            futures = list(self.futures)
        failed = []
        for future in futures:
            seen = future.observed
            if future.exception() is not None and not seen:
                failed.append(future.step_key)
        return failed
