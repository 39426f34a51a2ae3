"""Run one step to its end: cache lookup, attempts with retries and timeouts, storing the
value, fallbacks. Each attempt's start is deferred to the commit that ends it, so a step
costs one commit (the in-flight journal names it meanwhile, should the process die); its
success is committed before this function returns, and so before any downstream step can
start. In a resumed run, starts are committed before the body, and a step whose process died
while running it runs its next attempts in a process of its own."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import pickle
import random
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from legato import faults
from legato.capture import Line
from legato.definitions.options import LastGood
from legato.engine.context import StepContext
from legato.engine.session import RunSession, StepOutcome, StepSpec
from legato.errors import UnstorableError, ValueStoreError
from legato.executors.base import BodyCall, BodyResult, Executor, describe
from legato.executors.deaths import DIED, CannotSendError, ProcessDiedError
from legato.store.events import (
    STEP_SETTLED,
    AssetMaterialized,
    StepFailed,
    StepStarted,
    StepSucceeded,
    event,
    replaced,
)
from legato.store.records import Event, LogLine, StepStatus
from legato.values.value_store import is_plain_json

if TYPE_CHECKING:
    from legato.engine.replay import CutShort, RecordedStep

_rng = random.Random()


def _step_data(session: RunSession, spec: StepSpec, seq: int) -> dict[str, Any]:
    return {"name": spec.name, "kind": spec.kind, "seq": seq, "upstream": list(spec.upstream),
            "tags": list(spec.tags)}


def _log_lines(session: RunSession, key: str, attempt: int, lines: list[Line]) -> list[LogLine]:
    return [LogLine(session.run_id, key, attempt, at, stream, level, message)
            for at, stream, level, message in lines]


@functools.lru_cache(maxsize=4096)
def _ctx_position(fn: Callable[..., Any]) -> int | None:
    """Where ``ctx`` sits among the positional parameters; None when it is keyword-only."""
    for index, param in enumerate(inspect.signature(fn).parameters.values()):
        if param.name == "ctx":
            positional = (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)
            return index if param.kind in positional else None
    return None


def _with_ctx(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              ctx: StepContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments with ``ctx`` added where the function expects it: ``def
    task(ctx, x)`` called as ``task(5)`` gets ``ctx`` first and ``x=5``."""
    position = _ctx_position(fn)
    if position is not None and len(args) >= position:
        return (*args[:position], ctx, *args[position:]), kwargs
    return args, {**kwargs, "ctx": ctx}


def cache_key(spec: StepSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """Hash of the step's name, code version and inputs (or what its cache policy's key
    function makes of them); None when they cannot be hashed, or the key function says
    None. The name keeps two tasks with the same code version apart. A key function's
    error propagates (``run_step`` fails the step with it)."""
    policy = spec.options.cache
    head = f"{spec.kind}\0{spec.name}\0{spec.code_version()}\0".encode()
    if spec.partition_key is not None:  # each partition of an asset is its own result
        head += f"{spec.partition_key}\0".encode()
    if policy is not None and policy.key is not None:
        made = policy.key(_inputs_of(spec, args, kwargs))
        if made is None:
            return None
        blob = _hashable(made)
        if blob is None:
            raise TypeError(f"it returned {type(made).__name__!r}, which is neither a JSON "
                            "value nor picklable; return a string")
        head += b"key\0"  # never the same as the key of the inputs themselves
    else:
        blob = _hashable([list(args), kwargs], (args, sorted(kwargs.items())))
        if blob is None:
            return None
    digest = hashlib.sha256(head + blob)
    return digest.hexdigest()[:40]


def _hashable(value: Any, pickled: Any = None) -> bytes | None:
    """Bytes that stand for ``value``: JSON when it keeps values apart (not for ``{1: x}``,
    ``(1, 2)``), else ``pickled`` (default ``value``) pickled; None when neither works."""
    if is_plain_json(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    try:
        return pickle.dumps(value if pickled is None else pickled, protocol=4)
    except Exception:
        return None


def _inputs_of(spec: StepSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The step's arguments by parameter name, defaults included, ``ctx`` left out."""
    signature = inspect.signature(spec.fn)
    if spec.wants_ctx:
        args, kwargs = _with_ctx(spec.fn, args, kwargs, None)  # type: ignore[arg-type]
    bound = signature.bind_partial(*args, **kwargs)
    bound.apply_defaults()
    return {name: value for name, value in bound.arguments.items() if name != "ctx"}


def _key_failed(spec: StepSpec, error: Exception) -> BodyResult:
    """A cache key function that raised: the step fails without running its body."""
    text = (f"the cache key function of {spec.kind} '{spec.name}' raised "
            f"{describe(error)}; the {spec.kind} did not run")
    return BodyResult(ok=False, error=error, error_text=text, retryable=False,
                      traceback="".join(traceback.format_exception(error)))


def run_step(
    session: RunSession,
    spec: StepSpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    fallback_inputs: frozenset[str] = frozenset(),
    materialize: dict[str, Any] | None = None,
    seq: int | None = None,
    recorded: RecordedStep | None = None,
) -> StepOutcome:
    """``materialize`` (for assets) holds the upstream materialization ids to record.
    ``seq`` is the step's position in the run (given by a flow at the call), ``recorded``
    what a resumed run recorded of the step: its attempts go on from there, and its failed
    attempts count against the retry policy, those its process's death cut short
    included (``session.cut_short``)."""
    if seq is None:
        seq = session.next_seq()
    data = _step_data(session, spec, seq)
    key = spec.key
    if session.canceled.is_set():
        return settle(session, spec, StepStatus.CANCELED, reason="the run was canceled",
                      seq=seq)
    options = spec.options
    ckey, key_failed = None, None
    if options.cache is not None:
        try:
            ckey = cache_key(spec, args, kwargs)
        except Exception as error:  # the user's key function: fails the step, not the run
            key_failed = _key_failed(spec, error)
    if ckey is not None:
        not_before = (time.time() - options.cache.expires_after  # type: ignore[union-attr]
                      if options.cache.expires_after is not None else None)  # type: ignore[union-attr]
        hit = session.store.find_cached(ckey, not_before)
        if hit is not None:
            stored = session.store.get_value(hit[1])
            if stored is not None:
                try:
                    value = session.values.get(stored)
                except ValueStoreError:
                    pass  # the cached value is gone or damaged: run the step again
                else:
                    outcome = settle(session, spec, StepStatus.CACHED, value=value,
                                     value_id=stored.value_id, seq=seq, cache_key=ckey,
                                     reason=f"reused the result of run {hit[0]}")
                    return outcome
    retry = options.retry
    started = time.time()
    last: BodyResult | None = None
    first, failed_before, value_id = 1, 0, f"{session.run_id}/{key}"
    crashes = 0
    if recorded is not None:
        first, failed_before = recorded.attempts + 1, recorded.failures
        crashes = recorded.crashes
        started = recorded.started_at or started
        if recorded.was_reset:  # its first value is still recorded, under its own id
            value_id = f"{value_id}@{first}"
        if recorded.retry_at is not None:  # it was waiting between attempts
            session.canceled.wait(max(0.0, recorded.retry_at - time.time()))
    cut = session.cut_short.pop(key, None) if session.cut_short else None
    if cut is not None and not session.canceled.is_set():
        first, failed_before, crashes = (cut.attempt + 1, failed_before + cut.counts,
                                         crashes + cut.counts)
        # a crash of a process shared with other steps does not fail a step by itself: one
        # attempt more follows it, in a process of its own, where a crash is the step's
        # alone; only where there is none (inline), the crashes beyond that fail it
        final = cut.counts and failed_before > retry.max_attempts
        batch = _cut_short_events(session, key, data, cut, recorded=recorded,
                                  started=started, final=final,
                                  fallback=options.fallback is not None, crashes=crashes)
        if final:
            gone = BodyResult(ok=False, error=ProcessDiedError(None),
                              error_text=batch[-1].data["error"])
            if options.fallback is not None:
                return _fall_back(session, spec, args, kwargs, attempt=cut.attempt,
                                  batch=batch, lines=[], last=gone, seq=seq,
                                  started=started, value_id=value_id)
            session.record(batch)
            outcome = StepOutcome(status=StepStatus.FAILED, attempts=cut.attempt,
                                  error=gone.error_text, started_at=started,
                                  ended_at=time.time(), exception=gone.error)
            session.finish_step(key, outcome)
            return outcome
        session.record(batch)
    last_attempt = first + max(1, retry.max_attempts - failed_before) - 1
    attempt = first - 1
    executor = session.executor_for(options.executor)
    with session.limits.hold(spec.tags):
        for attempt in range(first, last_attempt + 1):
            if session.canceled.is_set() or not session.lease_fresh():
                break
            isolated = _isolated(executor, crashes)
            start = event(StepStarted(**data, isolated=isolated), session.run_id, key, attempt)
            if session.careful:
                session.record([start])
            else:
                session.defer(start)
            if faults.ARMED:
                faults.crash_point("after-claim")
            call_args = args
            call_kwargs = kwargs
            if spec.wants_ctx:
                call_args, call_kwargs = _with_ctx(spec.fn, args, kwargs, StepContext(
                    run_id=session.run_id, step_key=key, attempt=attempt,
                    params=session.params, fallback_inputs=fallback_inputs,
                    partition_key=spec.partition_key, partition_window=spec.partition_window,
                    **session.logical_context()))
            last = key_failed or _run_body(session, executor, key, attempt, BodyCall(
                fn=spec.fn, args=call_args, kwargs=call_kwargs, is_async=spec.is_async,
                timeout=options.timeout, log_limit=session.log_limit,
                log_sink=session.log_sink(key, attempt)), quarantined=isolated, start=start)
            died = isinstance(last.error, ProcessDiedError)
            crashes += died
            if session.ended:  # the run was canceled and has ended: nothing more to record
                return StepOutcome(status=StepStatus.CANCELED, attempts=attempt,
                                   reason="the run had ended")
            lines = _log_lines(session, key, attempt, last.lines)
            if last.ok:
                if faults.ARMED:
                    faults.crash_point("after-body")
                try:
                    return _succeed(session, spec, attempt=attempt, value=last.value,
                                    lines=lines, ckey=ckey, started=started,
                                    materialize=materialize, value_id=value_id)
                except (ValueStoreError, UnstorableError) as error:  # fails this step once
                    last = BodyResult(ok=False, error=error, retryable=False,
                                      error_text=f"{error}" + (f" ({error.hint})"
                                                               if error.hint else ""))
            final = (attempt == last_attempt or not last.retryable
                     or session.canceled.is_set())
            has_fallback = options.fallback is not None
            nxt = "retry" if not final else ("fallback" if has_fallback else "fail")
            failures = failed_before + attempt - first + 1
            delay = retry.delay(failures, _rng) if not final else 0.0
            if died and final and crashes > 1:
                last.error_text = f"{last.error_text}, {crashes} times"
            batch = [event(StepFailed(
                error=last.error_text, traceback=last.traceback, will_retry=nxt == "retry",
                next=nxt, retry_in=round(delay, 3), crashed=died), session.run_id, key,
                attempt)]
            if final:
                if has_fallback and not session.canceled.is_set():
                    return _fall_back(session, spec, args, kwargs, attempt=attempt,
                                      batch=batch, lines=lines, last=last, seq=seq,
                                      started=started, value_id=value_id)
                _record_failure(session, batch, lines)
                break
            _record_failure(session, batch, lines)
            if delay and session.canceled.wait(delay):
                break
    if session.canceled.is_set():
        return settle(session, spec, StepStatus.CANCELED, reason="the run was canceled",
                      seq=seq, attempts=attempt)
    outcome = StepOutcome(status=StepStatus.FAILED, attempts=attempt,
                          error=last.error_text if last else None, started_at=started,
                          ended_at=time.time(), exception=last.error if last else None)
    session.finish_step(key, outcome)
    return outcome


def _record_failure(session: RunSession, batch: list[Event], lines: list[LogLine]) -> None:
    """Record a failed attempt; if its output cannot be stored, without it, saying why."""
    try:
        session.record(batch, log_lines=lines)
    except UnstorableError as error:
        if not lines:
            raise
        last = batch[-1]
        text = f"{last.data.get('error')}; its output was not kept: {error}"
        session.record([*batch[:-1], replaced(last, error=text)])


def _isolated(executor: Executor, crashes: int) -> bool:
    """Whether the next attempt runs in a process of its own: always under an executor that
    isolates deaths (processes, a remote one); under one that runs bodies in this process's
    threads, once the step's process died while running it (not in the caller's thread:
    under inline, a debugging session, the crashes beyond the retries fail the step)."""
    capabilities = executor.capabilities
    return capabilities.isolates_deaths or (crashes > 0 and
                                            not capabilities.in_caller_thread)


def _run_body(session: RunSession, executor: Executor, key: str, attempt: int,
              call: BodyCall, *, quarantined: bool, start: Event) -> BodyResult:
    """Run one attempt's body. In this process's threads, it is noted in the in-flight
    journal while it runs (``engine/inflight.py``), so that if it takes the process down,
    the process that takes the run over knows which step did. A step whose process died
    before (``quarantined``) runs in a process of its own instead: if it dies again, this
    process and the other steps live on, and see its exit code."""
    if executor.capabilities.isolates_deaths:  # this process's death is not the body's
        if executor.capabilities.remote:  # no thread of this process runs the body
            return executor.submit_body(call).result()
        return executor.run_body(call)
    if quarantined:
        result = session.quarantine().run_body(call)
        if not isinstance(result.error, CannotSendError):
            return result
        # its function, arguments or value cannot travel (its module cannot be imported in
        # the child, say): it runs here after all, its start committed again as such
        session.record([replaced(start, isolated=False)])
    journal = session.journal
    slot = journal.enter(session.run_id, key, attempt) if journal is not None else None
    try:
        return executor.run_body(call)
    finally:
        if journal is not None:
            journal.leave(slot)


def _cut_short_events(session: RunSession, key: str, data: dict[str, Any], cut: CutShort,
                      *, recorded: RecordedStep | None, started: float, final: bool,
                      fallback: bool, crashes: int) -> list[Event]:
    """The events that record as failed the attempt of this step that the former holder of
    the resumed run was running when it died: it counts against the step's retry policy.
    Its start, when it was deferred and lost with the process, comes first (the journal
    named it)."""
    batch = []
    if recorded is None or recorded.attempts < cut.attempt:
        batch.append(event(StepStarted(**data), session.run_id, key, cut.attempt, at=started))
    error = (f"{DIED} ({cut.why})" if cut.crashed else f"the attempt was cut short: {cut.why}"
             ) + (f", {crashes} times" if final else "")
    nxt = "retry" if not final else "fallback" if fallback else "fail"
    batch.append(event(StepFailed(error=error, will_retry=not final, next=nxt,
                                  crashed=cut.crashed, counted=cut.counts),
                       session.run_id, key, cut.attempt))
    return batch


def _succeed(session: RunSession, spec: StepSpec, *, attempt: int, value: Any,
             lines: list[LogLine], ckey: str | None, started: float,
             materialize: dict[str, Any] | None, value_id: str) -> StepOutcome:
    stored, info = session.values.put(value_id, value, spec.options.io)
    if faults.ARMED:
        faults.crash_point("after-value")
    now = time.time()
    batch = [event(StepSucceeded(value_id=value_id, cache_key=ckey), session.run_id,
                   spec.key, attempt, at=now)]
    materialization_id = None
    if materialize is not None:
        materialization_id = value_id
        batch.append(event(AssetMaterialized(
            materialization_id=materialization_id, asset_key=spec.name,
            code_version=spec.code_version(), data_version=stored.digest[:16],
            value_id=value_id, upstream=materialize, row_count=info.row_count,
            columns=info.columns, partition_key=spec.partition_key),
            session.run_id, spec.key, attempt, at=now))
    session.record(batch, values=[stored], log_lines=lines)
    if faults.ARMED:
        faults.crash_point("after-commit")
    outcome = StepOutcome(status=StepStatus.SUCCEEDED, value=value, value_id=value_id,
                          materialization_id=materialization_id, attempts=attempt,
                          started_at=started, ended_at=now)
    session.finish_step(spec.key, outcome)
    return outcome


def _fall_back(session: RunSession, spec: StepSpec, args: tuple[Any, ...],
               kwargs: dict[str, Any], *, attempt: int, batch: list[Event],
               lines: list[LogLine], last: BodyResult, seq: int,
               started: float, value_id: str) -> StepOutcome:
    fallback = spec.options.fallback
    failure = f"failed after {attempt} attempt{'s' if attempt > 1 else ''}: {last.error_text}"
    if isinstance(fallback, LastGood):
        return settle(session, spec, StepStatus.FALLBACK, reason=failure, seq=seq,
                      attempts=attempt, pre=batch, log_lines=lines, started=started)
    assert fallback is not None
    try:
        value = fallback(*args, **kwargs)
        stored, _ = session.values.put(value_id, value, spec.options.io)
    except Exception as error:
        session.record([*batch[:-1], replaced(
            batch[-1], at=time.time(), next="fail",
            error=f"{last.error_text}; then its fallback failed: {describe(error)}")],
            log_lines=lines)
        outcome = StepOutcome(status=StepStatus.FAILED, attempts=attempt, started_at=started,
                              error=f"{last.error_text}; fallback failed: {describe(error)}",
                              ended_at=time.time(), exception=error)
        session.finish_step(spec.key, outcome)
        return outcome
    return settle(session, spec, StepStatus.FALLBACK, value=value, value_id=stored.value_id,
                  reason=f"{failure}; used the fallback {getattr(fallback, '__name__', '')}",
                  seq=seq, attempts=attempt, pre=batch, log_lines=lines, stored=[stored],
                  started=started)


def settle(
    session: RunSession,
    spec: StepSpec,
    status: StepStatus,
    *,
    seq: int,
    reason: str | None = None,
    value: Any = None,
    value_id: str | None = None,
    cache_key: str | None = None,
    attempts: int = 0,
    pre: list[Event] | None = None,
    log_lines: list[LogLine] | None = None,
    stored: list[Any] | None = None,
    started: float | None = None,
) -> StepOutcome:
    """End a step without a (further) successful attempt: skipped, canceled, cached, or a
    fallback. A ``last_good`` fallback loads the asset's previous materialization."""
    if status == StepStatus.FALLBACK and value_id is None:
        previous = session.store.latest_materialization(spec.name, spec.partition_key)
        loaded = None
        if previous is not None:
            record = session.store.get_value(previous.value_id)
            if record is not None:
                try:
                    loaded = (session.values.get(record), record.value_id)
                except ValueStoreError:
                    loaded = None
        if loaded is None:
            status = StepStatus.FAILED if pre else StepStatus.SKIPPED
            reason = f"{reason}; no earlier good value to fall back to"
        else:
            value, value_id = loaded
            reason = f"{reason}; serving the last good value from run {previous.run_id}"  # type: ignore[union-attr]
    now = time.time()
    events = list(pre or [])
    if status == StepStatus.FAILED and events:
        events[-1] = replaced(events[-1], next="fail")
    else:
        settled = STEP_SETTLED[status](
            **_step_data(session, spec, seq), reason=reason, value_id=value_id,
            cache_key=cache_key, started_at=started or now)
        events.append(event(settled, session.run_id, spec.key, attempts or None, at=now))
    session.record(events, values=stored or (), log_lines=log_lines or ())
    outcome = StepOutcome(status=status, value=value, value_id=value_id, attempts=attempts,
                          reason=reason, started_at=started, ended_at=now,
                          error=(pre[-1].data.get("error") if pre else None))
    session.finish_step(spec.key, outcome)
    return outcome
