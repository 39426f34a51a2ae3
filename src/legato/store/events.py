"""The event log's vocabulary: one ``EventKind`` per state change and one frozen payload
class per kind, serialized as allow-listed JSON.

Writing, a payload holds only its declared fields: an event whose data carries any other
field is refused by the gate (``IllegalTransition``), so a typo never reaches the log.
Reading, an old payload is still read: a field it lacks takes its default, a field the
code no longer knows is dropped. Optional fields (flags such as ``isolated``, details such
as a queued run's ``selection``) are written only when set, as they always were; the
others always are. Each class has a schema ``VERSION``; from version 2 on it is written
as ``"v"`` in the data, and ``upgrade`` turns an older payload into the current shape.

``RunTarget`` is what a run runs (a flow, a task, or a selection of assets), written into
``runs.target`` and read back in one way.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from legato.errors import IllegalTransition
from legato.store.records import Event


class EventKind(StrEnum):
    RUN_QUEUED = "run_queued"
    RUN_CLAIMED = "run_claimed"
    RUN_STARTED = "run_started"
    RUN_RESUMED = "run_resumed"
    RUN_RELEASED = "run_released"
    RUN_SUCCEEDED = "run_succeeded"
    RUN_FAILED = "run_failed"
    RUN_CANCELED = "run_canceled"
    RUN_LOG = "run_log"
    STEP_STARTED = "step_started"
    STEP_FAILED = "step_failed"
    STEP_RETRY_SCHEDULED = "step_retry_scheduled"
    STEP_SUCCEEDED = "step_succeeded"
    STEP_SKIPPED = "step_skipped"
    STEP_CANCELED = "step_canceled"
    STEP_CACHED = "step_cached"
    STEP_FALLBACK = "step_fallback"
    STEP_RESET = "step_reset"
    ASSET_MATERIALIZED = "asset_materialized"
    # state changes outside runs: their events have no run (``run_id`` is ""), and name
    # their subject (the trigger, the backfill, the daemon's role) in ``step_key``
    TRIGGER_PAUSED = "trigger_paused"
    TRIGGER_RESUMED = "trigger_resumed"
    BACKFILL_CANCELED = "backfill_canceled"
    DAEMON_ACQUIRED = "daemon_acquired"
    DAEMON_LOST = "daemon_lost"


NO_RUN = ""
"""The ``run_id`` of an event that belongs to no run (a trigger paused, a daemon's lease)."""

_ALWAYS = object()
_OMIT = {"omit": True}
"""A field's metadata: written only when it is not its default (a flag, an optional
detail)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Payload:
    """The base of every payload: declared fields only, JSON in and out."""

    KIND: ClassVar[EventKind]
    VERSION: ClassVar[int] = 1
    _FIELDS: ClassVar[tuple[tuple[str, Any], ...]] = ()
    _NAMES: ClassVar[frozenset[str]] = frozenset()

    def to_data(self) -> dict[str, Any]:
        """The JSON object written to the log: fields at their default are left out."""
        data: dict[str, Any] = {}
        for name, default in self._FIELDS:
            value = getattr(self, name)
            if default is _ALWAYS or value != default:
                data[name] = value
        if self.VERSION != 1:
            data["v"] = self.VERSION
        return data

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        """An older version's data in this version's shape (nothing to do at version 1)."""
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, strict: bool = False) -> Any:
        """The payload of a stored event. ``strict`` (writing): a field this kind does not
        declare raises ``IllegalTransition``; else (reading) it is dropped."""
        names = cls._NAMES
        if not names.issuperset(data):
            unknown = sorted(set(data) - names)
            if strict:
                raise IllegalTransition(
                    f"a {cls.KIND} event has no field {', '.join(map(repr, unknown))} (its "
                    f"fields are {', '.join(n for n, _ in cls._FIELDS)})")
            data = {k: v for k, v in data.items() if k in names}
        version = int(data.get("v", 1))
        if "v" in data:
            data = {k: v for k, v in data.items() if k != "v"}
        if version < cls.VERSION:
            data = cls.upgrade(dict(data), version)
        try:
            return cls(**data)
        except TypeError as error:  # a required field is missing
            raise IllegalTransition(f"a {cls.KIND} event lacks a field: {error}") from None


PAYLOADS: dict[str, type[Payload]] = {}
"""Event kind -> its payload class."""


def _payload(kind: EventKind) -> Any:
    """Register a payload class for ``kind`` and note its fields and their defaults."""

    def register(cls: type[Payload]) -> type[Payload]:
        fields = []
        for f in dataclasses.fields(cls):
            if not f.metadata.get("omit"):
                fields.append((f.name, _ALWAYS))
            elif f.default is not dataclasses.MISSING:
                fields.append((f.name, f.default))
            else:
                fields.append((f.name, f.default_factory()))  # type: ignore[operator]
        cls.KIND = kind
        cls._FIELDS = tuple(fields)
        cls._NAMES = frozenset([*(n for n, _ in fields), "v"])
        PAYLOADS[kind] = cls
        return cls

    return register


# -- runs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _RunRequest(Payload):
    """What a new run is: its target, parameters and where it comes from."""

    kind: str  # flow | assets | task
    target: str  # RunTarget.text
    params: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    tags: list[str] = field(default_factory=list)
    priority: int = 0
    partition_key: str | None = None
    trigger_key: str | None = None
    backfill_id: str | None = None
    idempotency_key: str | None = None
    selection: list[str] | None = field(default=None, metadata=_OMIT)  # an asset run's asset keys


@_payload(EventKind.RUN_QUEUED)
@dataclass(frozen=True, slots=True, kw_only=True)
class RunQueued(_RunRequest):
    # a scheduled run's logical time (scheduler/logical.py)
    scheduled_at: str | None = field(default=None, metadata=_OMIT)
    data_interval: list[str] | None = field(default=None, metadata=_OMIT)
    ds: str | None = field(default=None, metadata=_OMIT)


@_payload(EventKind.RUN_STARTED)
@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Payload):
    """A run starts here, leased to ``owner``; or (``claimed``) a queued run its worker
    claimed begins, and only ``selection``/``inputs``/``partition_key`` are recorded."""

    kind: str | None = field(default=None, metadata=_OMIT)
    target: str | None = field(default=None, metadata=_OMIT)
    params: dict[str, Any] = field(default_factory=dict, metadata=_OMIT)
    source: str | None = field(default=None, metadata=_OMIT)
    tags: list[str] = field(default_factory=list, metadata=_OMIT)
    priority: int = field(default=0, metadata=_OMIT)
    partition_key: str | None = field(default=None, metadata=_OMIT)
    trigger_key: str | None = field(default=None, metadata=_OMIT)
    backfill_id: str | None = field(default=None, metadata=_OMIT)
    idempotency_key: str | None = field(default=None, metadata=_OMIT)
    selection: list[str] | None = field(default=None, metadata=_OMIT)
    # an asset run's upstream materializations
    inputs: dict[str, Any] | None = field(default=None, metadata=_OMIT)
    owner: str | None = field(default=None, metadata=_OMIT)
    lease_s: float | None = field(default=None, metadata=_OMIT)
    claimed: bool = field(default=False, metadata=_OMIT)
    # "task": a task run on its own, as a flow
    runnable: str | None = field(default=None, metadata=_OMIT)


@_payload(EventKind.RUN_CLAIMED)
@dataclass(frozen=True, slots=True, kw_only=True)
class RunClaimed(Payload):
    owner: str
    lease_s: float


@_payload(EventKind.RUN_RESUMED)
@dataclass(frozen=True, slots=True, kw_only=True)
class RunResumed(Payload):
    """A takeover: applies only while the run's lease is still what the taker saw."""

    owner: str
    token: int
    lease_s: float
    previous_owner: str | None = None
    previous_token: int = 0
    seen_expires_at: float = 0.0
    reason: str | None = None


@_payload(EventKind.RUN_RELEASED)
@dataclass(frozen=True, slots=True, kw_only=True)
class RunReleased(Payload):
    owner: str | None
    token: int
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnded(Payload):
    error: str | None = None
    output_value_id: str | None = field(default=None, metadata=_OMIT)
    # a queued run canceled before any worker claimed it
    queued: bool = field(default=False, metadata=_OMIT)


@_payload(EventKind.RUN_SUCCEEDED)
@dataclass(frozen=True, slots=True, kw_only=True)
class RunSucceeded(RunEnded):
    pass


@_payload(EventKind.RUN_FAILED)
@dataclass(frozen=True, slots=True, kw_only=True)
class RunFailed(RunEnded):
    pass


@_payload(EventKind.RUN_CANCELED)
@dataclass(frozen=True, slots=True, kw_only=True)
class RunCanceled(RunEnded):
    pass


RUN_ENDED: dict[str, type[RunEnded]] = {
    "succeeded": RunSucceeded, "failed": RunFailed, "canceled": RunCanceled}
"""A run's final status -> the payload that ends it."""


@_payload(EventKind.RUN_LOG)
@dataclass(frozen=True, slots=True, kw_only=True)
class RunLog(Payload):
    message: str


# -- steps --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _StepIdentity(Payload):
    name: str = ""
    kind: str = "task"  # task | asset
    seq: int = 0
    upstream: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@_payload(EventKind.STEP_STARTED)
@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(_StepIdentity):
    # run in a process of its own (a step that crashed before)
    isolated: bool = field(default=False, metadata=_OMIT)


@_payload(EventKind.STEP_FAILED)
@dataclass(frozen=True, slots=True, kw_only=True)
class StepFailed(Payload):
    """An attempt failed; ``next`` says what follows: retry, fallback or fail."""

    error: str | None = None
    traceback: str | None = None
    will_retry: bool = False
    next: str | None = None  # retry | fallback | fail
    retry_in: float = 0.0
    crashed: bool = field(default=False, metadata=_OMIT)  # its process died
    # False: cut short by a takeover, not held against its retries
    counted: bool = field(default=True, metadata=_OMIT)


@_payload(EventKind.STEP_RETRY_SCHEDULED)
@dataclass(frozen=True, slots=True, kw_only=True)
class StepRetryScheduled(Payload):
    delay: float = 0.0


@_payload(EventKind.STEP_SUCCEEDED)
@dataclass(frozen=True, slots=True, kw_only=True)
class StepSucceeded(Payload):
    value_id: str | None = None
    cache_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSettled(_StepIdentity):
    """A step ends without (another) attempt."""

    reason: str | None = None
    value_id: str | None = None
    cache_key: str | None = None
    started_at: float | None = None


@_payload(EventKind.STEP_SKIPPED)
@dataclass(frozen=True, slots=True, kw_only=True)
class StepSkipped(StepSettled):
    pass


@_payload(EventKind.STEP_CANCELED)
@dataclass(frozen=True, slots=True, kw_only=True)
class StepCanceled(StepSettled):
    pass


@_payload(EventKind.STEP_CACHED)
@dataclass(frozen=True, slots=True, kw_only=True)
class StepCached(StepSettled):
    pass


@_payload(EventKind.STEP_FALLBACK)
@dataclass(frozen=True, slots=True, kw_only=True)
class StepFallback(StepSettled):
    pass


STEP_SETTLED: dict[str, type[StepSettled]] = {
    "skipped": StepSkipped, "canceled": StepCanceled, "cached": StepCached,
    "fallback": StepFallback}
"""A step's final status without an attempt -> the payload that settles it."""


@_payload(EventKind.STEP_RESET)
@dataclass(frozen=True, slots=True, kw_only=True)
class StepReset(Payload):
    reason: str | None = None


@_payload(EventKind.ASSET_MATERIALIZED)
@dataclass(frozen=True, slots=True, kw_only=True)
class AssetMaterialized(Payload):
    materialization_id: str
    asset_key: str
    code_version: str
    data_version: str
    value_id: str
    upstream: dict[str, str] = field(default_factory=dict)
    row_count: int | None = None
    columns: dict[str, str] | None = None
    partition_key: str | None = None


# -- outside runs -------------------------------------------------------------------------


@_payload(EventKind.TRIGGER_PAUSED)
@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerPaused(Payload):
    trigger_key: str


@_payload(EventKind.TRIGGER_RESUMED)
@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerResumed(Payload):
    trigger_key: str


@_payload(EventKind.BACKFILL_CANCELED)
@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillCanceled(Payload):
    backfill_id: str
    reason: str | None = None
    runs_canceled: int = 0  # its queued runs, canceled with it


@_payload(EventKind.DAEMON_ACQUIRED)
@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonAcquired(Payload):
    """A process became the singleton daemon ``role`` (the scheduler on SQLite)."""

    role: str
    owner: str
    previous_owner: str | None = None  # whose lease had expired, or who had died
    ttl: float = 0.0


@_payload(EventKind.DAEMON_LOST)
@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonLost(Payload):
    """A process stopped being the daemon ``role``: it let go (``released``), or its lease
    expired and another took over (``expired``)."""

    role: str
    owner: str
    reason: str = "released"
    successor: str | None = None


def event(payload: Payload, run_id: str, step_key: str | None = None,
          attempt: int | None = None, *, at: float | None = None) -> Event:
    """The log entry for ``payload``, of run ``run_id`` (``NO_RUN`` for none)."""
    return Event(run_id, step_key, attempt, payload.KIND, time.time() if at is None else at,
                 payload.to_data(), payload=payload)


def payload_of(item: Event, *, strict: bool = False) -> Any:
    """The typed payload of an event; ``strict`` (writing): unknown fields raise."""
    if item.payload is not None:
        return item.payload
    cls = PAYLOADS.get(item.kind)
    if cls is None:
        raise IllegalTransition(f"unknown event kind {item.kind!r}")
    return cls.from_data(item.data, strict=strict)


def replaced(item: Event, *, at: float | None = None, **changes: Any) -> Event:
    """``item`` with some fields of its payload changed (and its time, ``at``)."""
    payload = dataclasses.replace(payload_of(item), **changes)
    return Event(item.run_id, item.step_key, item.attempt, item.kind,
                 item.at if at is None else at, payload.to_data(), item.event_id,
                 payload=payload)


# -- what a run runs ----------------------------------------------------------------------

MAX_NAMED_ASSETS = 8
"""An asset run's target names its assets up to this many, else counts them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTarget:
    """What a run runs: a flow or task by name, or a selection of assets. ``text`` is what
    ``runs.target`` holds and what ``legato runs`` shows."""

    kind: str  # flow | task | assets
    name: str | None = None  # a flow's or task's
    selection: tuple[str, ...] = ()  # an asset run's asset keys

    @classmethod
    def flow(cls, name: str, *, kind: str = "flow") -> RunTarget:
        return cls(kind=kind, name=name)

    @classmethod
    def assets(cls, keys: Sequence[str]) -> RunTarget:
        return cls(kind="assets", selection=tuple(keys))

    @property
    def text(self) -> str:
        if self.kind != "assets":
            return self.name or ""
        keys = self.selection
        return ",".join(keys) if len(keys) <= MAX_NAMED_ASSETS else f"{len(keys)} assets"

    @property
    def assets_column(self) -> str | None:
        """What ``runs.assets`` holds: every asset key of an asset run between commas
        (``,a,b,c,``), so that one key is found with ``LIKE '%,b,%'``; None for others."""
        return "," + ",".join(self.selection) + "," if self.kind == "assets" else None

    @classmethod
    def read(cls, kind: str, text: str, selection: Sequence[str] | None = None) -> RunTarget:
        """From a run's row (``kind``, ``target``) and the ``selection`` its first event
        recorded (runs written before it was recorded name their assets in ``target``)."""
        if kind != "assets":
            return cls(kind=kind, name=text)
        return cls(kind=kind, selection=tuple(selection) if selection else
                   tuple(text.split(",")))
