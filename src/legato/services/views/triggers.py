"""The views of schedules, sensors and asset-event triggers, and their ticks (see
``legato.services.views``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
