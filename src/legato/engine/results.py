"""What ``lg.run`` and ``lg.materialize`` return."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from legato.store.records import RunStatus, StepStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    key: str
    status: StepStatus
    attempts: int
    duration: float | None
    error: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (StepStatus.SUCCEEDED, StepStatus.CACHED, StepStatus.FALLBACK)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    run_id: str
    status: RunStatus
    steps: Mapping[str, StepResult]
    output: Any = None
    """A flow's return value."""
    error: str | None = None
    _values: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _load: Callable[[str], Any] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.SUCCEEDED

    def value(self, key: str) -> Any:
        """The value of a step (an asset key, or a task's step key) in this run."""
        if key in self._values:
            return self._values[key]
        if key not in self.steps:
            raise KeyError(f"run {self.run_id} has no step '{key}'")
        if self._load is None:
            raise KeyError(f"step '{key}' of run {self.run_id} has no value")
        return self._load(key)

    def __repr__(self) -> str:
        return f"<RunResult {self.run_id} {self.status} {len(self.steps)} steps>"
