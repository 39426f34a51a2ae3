"""The public data contract: what the services return and what ``--json`` prints.

Every interface (the CLI's tables and ``--json``; the REST API, web UI and MCP server to
come) renders these views, so a person, a script and an agent see the same facts. They hold
no storage internals (no lease tokens, value ids or cache keys) and use the words of
``docs/concepts.md``. Times are Unix timestamps in seconds (``*_at``); durations are
seconds (``duration_s``). New fields may be added; existing ones keep their name and
meaning. ``docs/reference/views.md`` is generated from this module
(``python -m legato.services.reference``).

``to_json(view)`` is the one way a view (or a list of views) becomes JSON-able data.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseView:
    """Who executes a running run, and whether another process may take it over."""

    owner: str | None
    """The process holding the run (``host:pid:nonce:space``)."""
    expires_at: float | None
    resumable: bool
    """True when its process died or its lease expired: ``legato resume`` continues it."""
    reason: str
    """Why it is (or is not) resumable."""
    wait_s: float
    """How long the lease still holds when it is not resumable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunView:
    """One run of a flow or of an asset selection."""

    run_id: str
    """The run's id; commands take it, a unique prefix of it, or ``last``."""
    kind: str
    """``flow`` or ``assets``."""
    target: str
    """The flow's name, or the asset selection (comma-separated asset keys)."""
    status: str
    """``queued``, ``running``, ``succeeded``, ``failed`` or ``canceled``."""
    params: dict[str, Any]
    """The run's parameters (a flow's arguments; ``ctx.params`` of assets)."""
    tags: tuple[str, ...]
    """Run tags, counted against the ``run_concurrency`` limits."""
    priority: int
    """Queued runs with a higher priority are claimed first."""
    partition_key: str | None
    """The partition its partitioned assets compute."""
    backfill_id: str | None
    """The backfill it belongs to."""
    trigger_key: str | None
    """The schedule, sensor or asset trigger that requested it."""
    idempotency_key: str | None
    """The key it was submitted with: a second submission gets this run."""
    definitions: str | None
    """Where the run's definitions were loaded from (a file or a module)."""
    created_at: float
    """When it was requested."""
    started_at: float | None
    """When a worker claimed it (a queued run); else None."""
    ended_at: float | None
    duration_s: float | None
    """From the start of its execution to its end; None while it runs."""
    error: str | None
    """Why it failed or was canceled."""
    lease: LeaseView | None = None
    """For a running run read on its own (``show``): who holds it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepView:
    """One step of a run: an asset, or one task call."""

    step_key: str
    """The asset's key, or the task's name in call order (``fetch-2``, ``fetch[0]``)."""
    name: str
    """The asset's or task's name."""
    kind: str
    """``asset`` or ``task``."""
    status: str
    """``running``, ``retrying``, ``succeeded``, ``cached``, ``fallback``, ``failed``,
    ``skipped`` or ``canceled``."""
    attempts: int
    """How many attempts ran (one, plus one per retry)."""
    started_at: float | None
    ended_at: float | None
    duration_s: float | None
    error: str | None
    """The last attempt's error (``Type: message``)."""
    traceback: str | None
    """The last failed attempt's traceback."""
    reason: str | None
    """Why it was skipped, cached or fell back."""
    upstream: tuple[str, ...]
    """The step keys it depends on."""
    tags: tuple[str, ...]
    """Its tags (concurrency limits apply per tag)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunDetailView:
    """A run with its steps, in the order they started."""

    run: RunView
    steps: tuple[StepView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLineView:
    """One line a step printed or logged, in one attempt."""

    run_id: str
    step_key: str
    attempt: int
    """The attempt that wrote it (1 for the first)."""
    at: float
    stream: str
    """``stdout``, ``stderr`` or ``log``."""
    level: int
    """The Python logging level (20 INFO, 30 WARNING, ...)."""
    level_name: str
    """The level's name: ``INFO``, ``WARNING``, ..."""
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MaterializationView:
    """One successful computation of an asset."""

    materialization_id: str
    """Its id, the one upstream materializations name."""
    asset_key: str
    run_id: str
    step_key: str
    """The step of the run that computed it."""
    partition_key: str | None
    created_at: float
    code_version: str
    """The version of the asset's code that computed it."""
    data_version: str
    """A digest of the stored value."""
    upstream: dict[str, str]
    """The upstream materializations it used: asset key to materialization id."""
    row_count: int | None
    """Rows of a table-like value, when known."""
    columns: dict[str, str] | None
    """Column name to type of a table-like value, when known."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionsView:
    """How much of a partitioned asset was materialized."""

    definition: str | None
    """Its partitions, described (``daily from 2026-01-01``); None when not defined here."""
    materialized: int
    """How many distinct partitions have a materialization."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetView:
    """An asset and its latest materialization."""

    asset_key: str
    latest_materialization: MaterializationView | None
    """Its newest materialization; None if never materialized."""
    partitions: PartitionsView | None
    """For a partitioned asset; else None."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmittedRunView:
    """A run just queued for a worker."""

    run_id: str
    flow: str
    """The flow (or task) it runs."""
    params: dict[str, Any]
    """Its parameters, as checked against the flow."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TickTimeView:
    """A coming tick of a trigger."""

    tick_key: str
    """The instant in UTC, its identity (``2026-03-29T01:00:00Z``)."""
    at: str
    """ISO 8601 in UTC."""
    local: str
    """ISO 8601 in the schedule's timezone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TickView:
    """What one tick of a trigger did."""

    tick_key: str | None
    """The tick's identity: its instant in UTC (``2026-03-29T01:00:00Z``), or a sensor's
    run key, or a digest of the materializations an asset trigger consumed."""
    at: float
    status: str
    """``requested``, ``skipped`` or ``failed``."""
    run_id: str | None
    """The run it requested."""
    detail: str | None
    """Why it was skipped or failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CatchUpView:
    """What a schedule does with ticks missed while no scheduler ran."""

    policy: str
    """``latest``, ``none`` or ``all``."""
    limit: int | None
    """At most this many missed ticks run (policy ``all``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerView:
    """A schedule, sensor or asset-event trigger, its next ticks and its state."""

    name: str
    kind: str
    """``schedule``, ``sensor`` or ``asset_trigger``."""
    trigger_key: str
    """``<kind>:<name>``, e.g. ``schedule:nightly``."""
    flow: str | None
    """The flow it runs, or None when it runs an asset selection."""
    selection: tuple[str, ...]
    """The asset selection it runs, when it runs assets."""
    cadence: str
    """When it fires, in words."""
    cron: str | None
    """A cron schedule's expression."""
    interval_seconds: float | None
    """An interval schedule's or a sensor's interval."""
    timezone: str | None
    """A schedule's IANA timezone."""
    catch_up: CatchUpView | None
    """A schedule's catch-up policy."""
    params: dict[str, Any]
    """The parameters of the runs it requests."""
    partitions: dict[str, Any] | None
    """A schedule's partitions, when its runs compute one each."""
    upstream: tuple[str, ...]
    """An asset-event trigger's upstream assets."""
    mode: str | None
    """An asset-event trigger's mode: ``any`` or ``all``."""
    timeout: float | None
    """A sensor's timeout, seconds."""
    next: tuple[TickTimeView, ...]
    """Its next ticks (a schedule's, a sensor's; none for an asset trigger)."""
    paused: bool
    """A paused trigger requests no runs."""
    last_error: str | None
    """The first line of its last evaluation's error."""
    last_tick: TickView | None
    """What its newest tick did."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerStateView:
    """A trigger after it was paused or resumed."""

    trigger_key: str
    paused: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillView:
    """A backfill and where it stands: its partitions by the status of their runs."""

    backfill_id: str
    target: str
    """The asset selection, as its runs' target."""
    status: str
    """``running``, ``completed``, ``failed`` or ``canceled``."""
    total: int
    """How many partitions it covers."""
    succeeded: int
    """Partitions whose run succeeded."""
    failed: int
    """Partitions whose run failed or was canceled."""
    running: int
    """Partitions whose run is running."""
    queued: int
    """Partitions whose run waits for a worker."""
    error: str | None
    selection: tuple[str, ...]
    """The asset selection asked for."""
    first: str | None
    """The first partition of a range."""
    last: str | None
    """The last partition of a range, included."""
    keys: tuple[str, ...] | None
    """The partitions asked for, when not a range."""
    params: dict[str, Any]
    """The parameters of its runs."""
    rerun_of: str | None
    """The backfill whose failed partitions this one runs again."""
    definitions: str | None
    """Where its definitions were loaded from (a file or a module)."""
    max_concurrent: int
    """Runs queued or running at once, at most."""
    cursor: str | None
    """The last partition key it enqueued."""
    created_at: float
    ended_at: float | None
    """When it ended; None while it runs."""
    failed_partitions: tuple[str, ...] | None = None
    """For one backfill read on its own: the partitions that failed or were canceled (at
    most 1,000)."""

    @property
    def done(self) -> int:
        """Partitions that have ended, well or not."""
        return self.succeeded + self.failed


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillProgressView:
    """Where a running backfill stands, as its driver reports it."""

    backfill_id: str
    status: str
    total: int
    succeeded: int
    failed: int
    running: int
    queued: int
    error: str | None

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    @property
    def finished(self) -> bool:
        return self.status != "running"


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillCancelView:
    """A backfill after it was canceled: how many of its queued runs were canceled
    (running ones finish)."""

    backfill_id: str
    status: str
    canceled_runs: int
    """Its queued runs that were canceled."""
    already_ended: bool
    """True when it had ended before: nothing was canceled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """How a run this process executed ended. ``output`` is the flow's return value (a
    Python object, not part of the JSON contract)."""

    run_id: str
    status: str
    output: Any = None


VIEWS: tuple[type, ...] = (
    RunView, LeaseView, RunDetailView, StepView, LogLineView, AssetView,
    MaterializationView, PartitionsView, SubmittedRunView, TriggerView, TickTimeView,
    TickView, CatchUpView, TriggerStateView, BackfillView, BackfillProgressView,
    BackfillCancelView,
)
"""The views of the contract, in the order of their reference (docs/reference/views.md)."""


def to_json(data: Any) -> Any:
    """A view, a list of views or plain data as JSON-able data: views as objects of their
    fields, tuples as lists, and non-finite floats as null (strict parsers reject them)."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return {f.name: to_json(getattr(data, f.name)) for f in dataclasses.fields(data)}
    if isinstance(data, dict):
        return {str(key): to_json(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [to_json(item) for item in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data
