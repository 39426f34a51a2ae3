"""What a resumed run already did, read back from the store, and how a flow replays it.

``RunHistory`` holds the run's recorded steps. A resumed flow runs its function again from
the top: each task call gets the position it got the first time (call order, counted in the
flow's own thread) and is matched against the step recorded there, by task name and step
key. A call whose step finished returns its recorded result without running; a call that
finds another task recorded at its position means the flow's code changed, and raises
``NonDeterminismError`` naming the call site.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legato.engine.inflight import InFlight
from legato.engine.lease import owner_process
from legato.engine.session import RunSession, StepOutcome
from legato.errors import NonDeterminismError, ValueStoreError
from legato.store.events import StepReset
from legato.store.events import event as new_event
from legato.store.records import (
    FINAL_STEP_STATUSES,
    OK_STEP_STATUSES,
    Event,
    RunRecord,
    StepStatus,
    StoredValue,
)
from legato.store.sql_store import SqlStore

_LEGATO = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedStep:
    """One step as the store recorded it, with what its attempts tell."""

    key: str
    name: str
    seq: int
    status: StepStatus
    attempts: int
    value_id: str | None
    error: str | None
    reason: str | None
    started_at: float | None
    failures: int = 0
    """Failed attempts since the step last succeeded or was reset: they count against its
    retry policy, those cut short by the death of their process included."""
    crashes: int = 0
    """Of those, the attempts whose process died (``crashed`` in the ``step_failed`` event):
    the step's next attempts run in a process of their own (``step_runner``)."""
    isolated: bool = False
    """Its last attempt ran in a process of its own (``isolated`` in its ``step_started``):
    the death of the run's process is then not the step's doing."""
    retry_at: float | None = None
    """When its next attempt is due, if it was waiting between attempts."""
    was_reset: bool = False
    """Its value was lost once (``step_reset``): its next value gets an id of its own."""

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STEP_STATUSES

    @property
    def ok(self) -> bool:
        return self.status in OK_STEP_STATUSES


@dataclass(slots=True)
class RunHistory:
    run: RunRecord
    steps: dict[str, RecordedStep]
    started: dict[str, Any] = field(default_factory=dict)
    """The data of the run's ``run_started`` event: kind, target, selection, inputs."""
    stored: dict[str, StoredValue] = field(default_factory=dict)
    by_seq: dict[int, RecordedStep] = field(default_factory=dict)
    released: bool = False
    """Its last holder let it go (``run_released``: a worker shutting down): the attempts it
    left unfinished were not cut short by their own doing."""

    def __post_init__(self) -> None:
        self.by_seq = {step.seq: step for step in self.steps.values()}

    @property
    def next_seq(self) -> int:
        return max(self.by_seq, default=-1) + 1

    def unfinished(self) -> list[RecordedStep]:
        return [s for s in self.steps.values() if not s.finished]


def load_history(store: SqlStore, run: RunRecord) -> RunHistory:
    """Read back a run's steps and the parts of its event log that resuming needs."""
    events = store.get_events(run.run_id)
    failures: dict[str, int] = {}
    crashes: dict[str, int] = {}
    isolated: dict[str, bool] = {}
    last_failure: dict[str, Event] = {}
    resets: set[str] = set()
    started: dict[str, Any] = {}
    released = False
    for event in events:
        key = event.step_key
        if event.kind in ("run_queued", "run_started"):  # a queued run: what was asked for
            started.update(event.data)
        if event.kind in ("run_started", "run_claimed", "run_resumed", "run_released"):
            released = event.kind == "run_released"
        if event.kind in ("run_queued", "run_started") or key is None:
            continue
        elif event.kind == "step_started":
            isolated[key] = bool(event.data.get("isolated"))
        elif event.kind == "step_failed":
            last_failure[key] = event
            if event.data.get("counted") is False:
                continue  # the run's process died, not the step's
            failures[key] = failures.get(key, 0) + 1
            if event.data.get("crashed"):
                crashes[key] = crashes.get(key, 0) + 1
        elif event.kind in ("step_succeeded", "step_reset"):
            failures.pop(key, None)
            crashes.pop(key, None)
            last_failure.pop(key, None)
            if event.kind == "step_reset":
                resets.add(key)
    steps = {}
    for record in store.get_steps(run.run_id):
        retry_at = None
        failed = last_failure.get(record.step_key)
        if record.status == StepStatus.RETRYING and failed is not None:
            retry_at = failed.at + float(failed.data.get("retry_in") or 0.0)
        steps[record.step_key] = RecordedStep(
            key=record.step_key, name=record.name, seq=record.seq, status=record.status,
            attempts=record.attempts, value_id=record.value_id, error=record.error,
            reason=record.reason, started_at=record.started_at,
            failures=failures.get(record.step_key, 0),
            crashes=crashes.get(record.step_key, 0), retry_at=retry_at,
            isolated=isolated.get(record.step_key, False),
            was_reset=record.step_key in resets)
    stored = store.get_values([s.value_id for s in steps.values() if s.ok and s.value_id])
    return RunHistory(run, steps, started, stored, released=released)


@dataclass(frozen=True, slots=True)
class CutShort:
    """An attempt that the death (or lease expiry) of its process cut short: it is recorded
    as failed, ``why``, when the resumed run reaches its step (``step_runner``)."""

    attempt: int
    why: str
    counts: bool = True
    """False when the attempt ran in a process of its own, which outlived the run's, or
    when its worker let the run go (``crashed`` is then False too)."""
    crashed: bool = True
    """False when no process died: its worker shut down and released the run."""


def cut_short(history: RunHistory, *, dead: bool, reason: str,
              in_flight: list[InFlight]) -> dict[str, CutShort]:
    """The attempts the former holder of a run being taken over was running: those the
    store recorded as running (their start was written), and those its journal names
    (``engine/inflight.py``; read when the holder is known dead) whose end the store does
    not have."""
    owner = history.run.lease_owner
    process = owner_process(owner)
    if history.released:
        why = (f"its worker shut down and released the run ({reason}); this does not count "
               "against its retries")
    elif dead and process is not None:
        why = (f"process {process[1]} on {process[0]} died; the step ran in one of its "
               "threads, so its exit code is unknown")
    else:
        why = f"or froze: {reason}"
    found: dict[str, CutShort] = {}
    for step in history.steps.values():
        if step.status == StepStatus.RUNNING and history.released:
            found[step.key] = CutShort(step.attempts, why, counts=False, crashed=False)
        elif step.status == StepStatus.RUNNING and step.isolated:
            found[step.key] = CutShort(
                step.attempts, f"{why}; the step ran in a process of its own, so this does "
                "not count against its retries", counts=False)
        elif step.status == StepStatus.RUNNING:
            found[step.key] = CutShort(step.attempts, why)
    for entry in in_flight:
        known_step = history.steps.get(entry.step_key)
        if known_step is not None and (
                known_step.finished or (known_step.status != StepStatus.RUNNING
                                        and known_step.attempts >= entry.attempt)):
            continue  # its end was committed before the process died
        known = found.get(entry.step_key)
        if known is None or known.attempt < entry.attempt:
            found[entry.step_key] = CutShort(entry.attempt, why)
    return found


def recorded_outcome(session: RunSession, step: RecordedStep) -> StepOutcome | None:
    """The outcome of a finished step, its value loaded from the store. None when the value
    cannot be loaded: the step is then reset (``step_reset``, with the reason) to run again."""
    value = None
    if step.ok and step.value_id is not None:
        history = session.history
        stored = history.stored.get(step.value_id) if history else None
        try:
            if stored is None:
                stored = session.store.get_value(step.value_id)
            if stored is None:
                raise ValueStoreError(f"value {step.value_id} is not in the store")
            value = session.values.get(stored)
        except ValueStoreError as error:
            reset(session, step, f"its value could not be loaded, so it runs again: {error}")
            return None
    return StepOutcome(status=step.status, value=value, value_id=step.value_id,
                       attempts=step.attempts, error=step.error, reason=step.reason,
                       started_at=step.started_at)


def reset(session: RunSession, step: RecordedStep, reason: str) -> None:
    session.record([new_event(StepReset(reason=reason), session.run_id, step.key,
                          step.attempts or None)])
    if session.history is not None:
        session.history.steps[step.key] = RecordedStep(
            key=step.key, name=step.name, seq=step.seq, status=StepStatus.RETRYING,
            attempts=step.attempts, value_id=None, error=step.error, reason=reason,
            started_at=step.started_at, was_reset=True)
        session.history.by_seq[step.seq] = session.history.steps[step.key]


def match(history: RunHistory, flow: str, seq: int, key: str, name: str) -> RecordedStep | None:
    """The step recorded for this call (its position ``seq``, its ``key``), or None for a
    call the run never reached; NonDeterminismError when the record contradicts it."""
    recorded = history.by_seq.get(seq)
    if recorded is not None and recorded.key == key and recorded.name == name:
        return recorded
    if recorded is None:
        elsewhere = history.steps.get(key)
        if elsewhere is None:
            return None
        found = (f"the run recorded step '{key}' as call #{elsewhere.seq + 1}, not "
                 f"#{seq + 1}")
    else:
        found = (f"the run recorded a call of '{recorded.name}' (step '{recorded.key}') "
                 "there")
    site = call_site()
    raise NonDeterminismError(
        f"flow '{flow}' no longer matches the history of run {history.run.run_id} at {site}: "
        f"call #{seq + 1} is a call of '{name}' (step '{key}'), but {found}. The flow's code "
        "changed since the run started, so its recorded results cannot be replayed",
        call_site=site,
        hint=f"restart the run from scratch: legato resume {history.run.run_id} --restart "
        "(in Python: lg.resume(run_id, restart=True)); it runs the flow anew with the same "
        "parameters",
    )


def call_site() -> str:
    """``file:line`` of the innermost frame outside legato: the flow's call of the task."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_LEGATO) and not filename.startswith("<frozen"):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "<unknown>"
