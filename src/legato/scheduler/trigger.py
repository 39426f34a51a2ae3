"""Triggers: what starts runs. Every kind implements one small interface.

A trigger has a key (``schedule:nightly``) and is evaluated with the cursor it returned
last time (text the store keeps for it; None the first time) and the current instant. It
answers with run requests, each with a tick key unique within the trigger, and its next
cursor. The scheduler loop (``legato.daemon.scheduler``) does the rest for every kind alike:
it enqueues each request under the unique key (trigger key, tick key), so a tick never
makes two runs, whichever scheduler evaluated it, and then saves the cursor.

Kinds: ``ScheduleDefinition`` (cron and interval schedules), ``SensorDefinition`` (a polled
user function, ``scheduler/sensor.py``) and ``AssetTriggerDefinition`` (an upstream asset
materialized, ``scheduler/asset_events.py``); the loop is ``legato.daemon.scheduler``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from legato.scheduler.catch_up import SkippedTicks
from legato.scheduler.logical import LogicalTime


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    """A run a trigger asks for: of a flow (with ``params``), or of an asset selection
    (for partitioned assets, of one partition)."""

    trigger_key: str
    tick_key: str
    """Unique within the trigger: the same tick always yields the same key."""
    flow: str | None = None
    selection: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    partition_key: str | None = None
    scheduled_at: dt.datetime | None = None
    logical: LogicalTime | None = None
    """A schedule's run: its scheduled instant and data interval, recorded with the run."""

    @property
    def run_key(self) -> str:
        """The unique key the store enqueues the run under: ``schedule:nightly@<tick>``."""
        return f"{self.trigger_key}@{self.tick_key}"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The answer of one evaluation: runs to request, ticks skipped, the next cursor; and
    for an evaluation that ran nothing, why (``reason``: a sensor's skip reason) or what
    went wrong (``error``: a sensor that raised or timed out; the scheduler records a
    failed tick and goes on)."""

    run_requests: tuple[RunRequest, ...]
    cursor: str | None
    skipped: tuple[SkippedTicks, ...] = ()
    reason: str | None = None
    error: str | None = None


@runtime_checkable
class Trigger(Protocol):
    """What every kind of trigger implements."""

    @property
    def trigger_key(self) -> str:
        """``<kind>:<name>``, unique among a project's triggers and stable across restarts."""
        ...

    def evaluate(self, cursor: str | None, now: dt.datetime) -> Evaluation:
        """The runs to request at ``now``. Pure for schedules; sensors call user code."""
        ...

    def next_evaluation(self, cursor: str | None, now: dt.datetime) -> dt.datetime | None:
        """When evaluating again can next request a run (the loop sleeps until then);
        None when never."""
        ...
