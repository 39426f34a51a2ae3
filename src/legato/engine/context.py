"""``ctx``: what a step's function receives when it has a parameter named ``ctx``."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from legato.capture import STEP_LOGGER

if TYPE_CHECKING:
    from legato.scheduler.partitions import TimeWindow



@dataclass(frozen=True, slots=True, kw_only=True)
class StepContext:
    """Plain data, so that it can travel to a worker process."""

    run_id: str
    step_key: str
    attempt: int
    params: dict[str, Any] = field(default_factory=dict)
    """The run's parameters (``legato run ... --param k=v``)."""
    fallback_inputs: frozenset[str] = frozenset()
    """Inputs whose value is a fallback (an older, last good value), not fresh."""
    partition_key: str | None = None
    """The partition a partitioned asset computes (``"2026-01-05"``); None otherwise."""
    partition_window: TimeWindow | None = None
    """For time partitions: the partition's span, ``start`` included and ``end`` excluded
    (UTC datetimes; ``local_start``/``local_end`` in the partitions' timezone)."""
    scheduled_at: dt.datetime | None = None
    """For a run a schedule started: the instant of its tick (an aware UTC datetime), the
    same when the run is resumed or retried; None for other runs."""
    data_interval: tuple[dt.datetime, dt.datetime] | None = None
    """For a run a schedule started: ``(start, end)``, from the schedule's previous tick
    to this one (Airflow's ``data_interval_start``/``data_interval_end``); None otherwise."""

    @property
    def idempotency_key(self) -> str:
        """Stable for this step across attempts: use it for side effects in other systems."""
        return f"{self.run_id}:{self.step_key}"

    @property
    def log(self) -> logging.Logger:
        """A logger whose records are stored with this attempt's logs (INFO and up)."""
        return logging.getLogger(STEP_LOGGER)

    def is_fallback(self, name: str) -> bool:
        return name in self.fallback_inputs
