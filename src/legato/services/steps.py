"""Steps and their logs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from legato.errors import LegatoError
from legato.services.connect import ReadSource, reading
from legato.services.runs import run_view
from legato.services.views.steps import AttemptView, LogLineView, RunLogsView, StepView

if TYPE_CHECKING:
    from collections.abc import Sequence

    from legato.store.records import Event, LogLine, StepRecord

FINAL = frozenset({"succeeded", "cached", "fallback", "failed", "skipped", "canceled"})


def step_view(record: StepRecord) -> StepView:
    return StepView(
        step_key=record.step_key, name=record.name, kind=record.kind,
        status=str(record.status), attempts=record.attempts, started_at=record.started_at,
        ended_at=record.ended_at, duration_s=record.duration, error=record.error,
        traceback=record.traceback, reason=record.reason, upstream=tuple(record.upstream),
        tags=tuple(record.tags))


def log_line_view(line: LogLine) -> LogLineView:
    return LogLineView(run_id=line.run_id, step_key=line.step_key, attempt=line.attempt,
                       at=line.at, stream=line.stream, level=line.level,
                       level_name=logging.getLevelName(line.level), message=line.message)


def attempts(events: Sequence[Event], steps: Sequence[StepRecord]) -> list[AttemptView]:
    """Each attempt of the steps, from their ``step_started``, ``step_failed`` and
    ``step_succeeded`` events, in the order they started."""
    total = {s.step_key: s.attempts for s in steps if str(s.status) in FINAL}
    found: dict[tuple[str, int], dict[str, object]] = {}
    for event in events:
        if event.step_key is None or event.attempt is None or event.kind not in (
                "step_started", "step_failed", "step_succeeded"):
            continue
        key = (event.step_key, event.attempt)
        seen = found.setdefault(key, {"started_at": None, "ended_at": None,
                                      "status": "running"})
        if event.kind == "step_started":
            seen["started_at"] = event.at
        elif event.kind == "step_succeeded":
            seen.update(status="succeeded", ended_at=event.at)
        else:
            seen.update(status="failed", ended_at=event.at, error=event.data.get("error"),
                        traceback=event.data.get("traceback"), next=event.data.get("next"),
                        crashed=bool(event.data.get("crashed")))
    views = []
    for (step_key, attempt), seen in found.items():
        started, ended = seen["started_at"], seen["ended_at"]
        views.append(AttemptView(
            step_key=step_key, attempt=attempt, of=total.get(step_key),
            status=str(seen["status"]),
            started_at=started if isinstance(started, float) else None,
            ended_at=ended if isinstance(ended, float) else None,
            duration_s=(ended - started if isinstance(started, float)
                        and isinstance(ended, float) else None),
            error=_text(seen.get("error")), traceback=_text(seen.get("traceback")),
            next=_text(seen.get("next")), crashed=bool(seen.get("crashed"))))
    return views


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def run_logs(source: ReadSource, run: str, step: str | None = None) -> RunLogsView:
    """A run, each attempt of its steps (or of one step) with its outcome and traceback,
    and what they printed and logged, in the order written. Naming a step the run does
    not have raises, with the steps it has."""
    with reading(source) as store:
        record = store.get_run(run)
        steps = store.get_steps(record.run_id)
        if step is not None:
            keys = [s.step_key for s in steps]
            if step not in keys:
                from legato.definitions.validation import did_you_mean

                raise LegatoError(
                    f"run {record.run_id} has no step '{step}'{did_you_mean(step, keys)}",
                    hint=f"its steps: {', '.join(keys[:10]) or 'none'}"
                    + (" ..." if len(keys) > 10 else ""))
        lines = store.get_logs(record.run_id, step)
        events = store.get_events(record.run_id, step)
    return RunLogsView(run=run_view(record), attempts=tuple(attempts(events, steps)),
                       lines=tuple(log_line_view(line) for line in lines))
