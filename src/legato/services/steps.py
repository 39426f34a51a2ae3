"""Steps and their logs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from legato.errors import LegatoError
from legato.services.connect import StoreLocation, reading
from legato.services.runs import run_view
from legato.services.views.runs import LogLineView, RunView, StepView

if TYPE_CHECKING:
    from legato.store.records import LogLine, StepRecord


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


def run_logs(settings: StoreLocation, run: str,
             step: str | None = None) -> tuple[RunView, list[LogLineView]]:
    """A run and what its steps (or one step) printed and logged, in the order written.
    Naming a step the run does not have raises, with the steps it has."""
    with reading(settings) as store:
        record = store.get_run(run)
        if step is not None:
            keys = [s.step_key for s in store.get_steps(record.run_id)]
            if step not in keys:
                from legato.definitions.validation import did_you_mean

                raise LegatoError(
                    f"run {record.run_id} has no step '{step}'{did_you_mean(step, keys)}",
                    hint=f"its steps: {', '.join(keys[:10]) or 'none'}"
                    + (" ..." if len(keys) > 10 else ""))
        lines = store.get_logs(record.run_id, step)
    return run_view(record), [log_line_view(line) for line in lines]
