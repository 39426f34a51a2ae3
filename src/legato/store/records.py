"""What the store returns and accepts: immutable records and the status vocabulary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from legato.store.events import Payload


class RunStatus(StrEnum):
    QUEUED = "queued"  # waiting for a worker to claim it
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class StepStatus(StrEnum):
    RUNNING = "running"
    RETRYING = "retrying"  # an attempt failed, the next one is due
    SUCCEEDED = "succeeded"
    CACHED = "cached"  # a previous result with the same code version and inputs was reused
    FALLBACK = "fallback"  # failed or blocked; its fallback value is used instead
    FAILED = "failed"
    SKIPPED = "skipped"  # not run because something upstream failed
    CANCELED = "canceled"


OK_STEP_STATUSES = frozenset({StepStatus.SUCCEEDED, StepStatus.CACHED, StepStatus.FALLBACK})
FINAL_STEP_STATUSES = OK_STEP_STATUSES | {
    StepStatus.FAILED,
    StepStatus.SKIPPED,
    StepStatus.CANCELED,
}


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event log. ``data`` is a JSON object whose shape depends on kind
    (``store/events.py``); ``payload``, when the event was built from one, is its typed
    form (not compared, not stored)."""

    run_id: str
    step_key: str | None
    attempt: int | None
    kind: str
    at: float
    data: dict[str, Any] = field(default_factory=dict)
    event_id: int | None = None
    payload: Payload | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class LogLine:
    run_id: str
    step_key: str
    attempt: int
    at: float
    stream: str  # stdout | stderr | log
    level: int
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredValue:
    """Where and how a step's value is kept."""

    value_id: str
    format: str  # json | parquet | pickle
    type: str
    inline: str | None
    uri: str | None
    size: int
    digest: str
    created_at: float


@dataclass(slots=True, eq=False)
class Lease:
    """The right to write one run's state, held by one process at a time.

    Every transaction that writes the run first checks that ``token`` is still the run's
    fencing token: a holder whose lease was taken over (its token raised) has its writes
    rejected as a whole. ``renewed_at`` (``time.monotonic()``) is set by the writer when a
    renewal (the heartbeat's) is committed."""

    run_id: str
    owner: str
    token: int
    ttl: float
    renewed_at: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    run_id: str
    kind: str
    target: str
    status: RunStatus
    params: dict[str, Any]
    tags: list[str]
    source: str | None
    created_at: float
    ended_at: float | None
    error: str | None
    lease_owner: str | None = None
    lease_token: int | None = None
    lease_expires_at: float | None = None
    idempotency_key: str | None = None
    output_value_id: str | None = None
    priority: int = 0
    partition_key: str | None = None
    trigger_key: str | None = None
    backfill_id: str | None = None
    started_at: float | None = None

    @property
    def duration(self) -> float | None:
        """From the start of its execution (its request, for a run never queued) to its
        end."""
        if self.ended_at is None:
            return None
        return self.ended_at - (self.started_at or self.created_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord:
    run_id: str
    step_key: str
    name: str
    kind: str
    seq: int
    status: StepStatus
    attempts: int
    started_at: float | None
    ended_at: float | None
    error: str | None
    traceback: str | None
    reason: str | None
    value_id: str | None
    cache_key: str | None
    upstream: list[str]
    tags: list[str]

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass(frozen=True, slots=True, kw_only=True)
class MaterializationRecord:
    materialization_id: str
    asset_key: str
    run_id: str
    step_key: str
    created_at: float
    code_version: str
    data_version: str
    value_id: str
    upstream: dict[str, str]
    row_count: int | None
    columns: dict[str, str] | None
    partition_key: str | None = None


# -- from rows: the same for SQLAlchemy's rows and the plain driver's (store/reader.py) ----


def run_record(m: Mapping[str, Any]) -> RunRecord:
    """A run's record from its row."""
    return RunRecord(
        run_id=m["run_id"], kind=m["kind"], target=m["target"], status=RunStatus(m["status"]),
        params=json.loads(m["params"]), tags=json.loads(m["tags"]), source=m["source"],
        created_at=m["created_at"], ended_at=m["ended_at"], error=m["error"],
        lease_owner=m["lease_owner"], lease_token=m["lease_token"],
        lease_expires_at=m["lease_expires_at"], idempotency_key=m["idempotency_key"],
        output_value_id=m["output_value_id"], priority=m["priority"],
        partition_key=m["partition_key"], trigger_key=m["trigger_key"],
        backfill_id=m["backfill_id"], started_at=m["started_at"],
    )


def step_record(m: Mapping[str, Any]) -> StepRecord:
    """A step's record from its row."""
    return StepRecord(
        run_id=m["run_id"], step_key=m["step_key"], name=m["name"], kind=m["kind"],
        seq=m["seq"], status=StepStatus(m["status"]), attempts=m["attempts"],
        started_at=m["started_at"], ended_at=m["ended_at"], error=m["error"],
        traceback=m["traceback"], reason=m["reason"], value_id=m["value_id"],
        cache_key=m["cache_key"], upstream=json.loads(m["upstream"]), tags=json.loads(m["tags"]),
    )


def materialization_record(m: Mapping[str, Any]) -> MaterializationRecord:
    """A materialization's record from its row."""
    return MaterializationRecord(
        materialization_id=m["materialization_id"], asset_key=m["asset_key"],
        run_id=m["run_id"], step_key=m["step_key"], created_at=m["created_at"],
        code_version=m["code_version"], data_version=m["data_version"], value_id=m["value_id"],
        upstream=json.loads(m["upstream"]), row_count=m["row_count"],
        columns=json.loads(m["columns"]) if m["columns"] else None,
        partition_key=m["partition_key"],
    )
