"""The scheduler: one loop over every trigger (schedules, sensors, asset-event triggers),
which enqueues the runs they request for workers to claim.

Each pass (``tick``) reads every trigger's state from the store, evaluates the triggers
that are due with the cursor stored for them, and saves each evaluation with
``save_evaluation``: the new cursor, the runs (each under its unique key
``<trigger>@<tick>``) and the ticks' history, which only apply if nobody saved the
trigger since it was read (compare-and-set). The evaluations of one pass are saved up to
``BATCH`` per transaction, in trigger-key order. So a tick makes one run
at most, whichever scheduler evaluated it, and a restarted scheduler goes on from the
stored cursor: it neither skips nor repeats a tick beyond the trigger's catch-up policy.

- A paused trigger is evaluated all the same, but requests nothing: its ticks are
  recorded as skipped and its cursor moves on (a sensor's function is not called).
- A trigger that raises, a sensor that times out, and a trigger in the store that the
  definitions no longer have (its flow or assets were removed) give a failed tick with
  the reason; the loop goes on with the others.
- ``run`` loops until stopped, sleeping until the next trigger is due (at most the
  ``scheduler_tick`` setting). On SQLite one scheduler is active at a time: it holds the
  ``scheduler`` daemon lease, and a second one stands by until that lease expires. On
  PostgreSQL any number run at once: the unique keys and the compare-and-set make each
  tick run once. Store errors (a lock timeout, a lost connection) are logged in one line
  and retried with a growing delay; they never end the loop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from legato.definitions.recording import record_definitions
from legato.engine.lease import new_owner, owner_is_dead
from legato.errors import LegatoError, StoreError
from legato.scheduler.asset_events import AssetTriggerDefinition
from legato.scheduler.sensor import SensorDefinition
from legato.scheduler.timezones import UTC
from legato.scheduler.trigger import Evaluation, RunRequest, Trigger
from legato.store.events import RunTarget
from legato.store.queue import queued_event
from legato.store.records import Event
from legato.store.sql_store import SqlStore
from legato.store.triggers import (
    EvaluationSave,
    TickRecord,
    TriggerState,
    daemon_holder,
    hold_daemon,
    read_triggers,
    release_daemon,
    save_evaluation,
    save_evaluations,
)

if TYPE_CHECKING:
    from legato.definitions.definitions import Definitions
    from legato.settings import Settings

logger = logging.getLogger(__name__)

ROLE = "scheduler"
MAX_KEY = 255
"""Longest run key and tick key the store keeps; longer ones (a sensor's run_key) are
shortened to a digest."""
BATCH = 100
"""Evaluations saved per transaction: one commit for many triggers due at once."""
MAX_FAILURE_DELAY = 60.0
MAX_STORE_DELAY = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TickReport:
    """What one pass of the loop did."""

    at: dt.datetime
    evaluated: int = 0
    requested: int = 0
    """Runs enqueued."""
    skipped: int = 0
    """Ticks recorded as skipped (paused, catch-up, a sensor's reason, a duplicate)."""
    failed: tuple[str, ...] = ()
    """Keys of the triggers whose evaluation failed."""
    lost: int = 0
    """Evaluations dropped because another scheduler saved the trigger first."""
    backfills: int = 0
    """Running backfills advanced (their next partitions enqueued, or ended)."""
    next_due: dt.datetime | None = None

    def describe(self) -> str:
        parts = [f"{self.evaluated} evaluated", f"{self.requested} runs requested"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.failed:
            parts.append(f"{len(self.failed)} failed ({', '.join(self.failed)})")
        if self.lost:
            parts.append(f"{self.lost} saved by another scheduler")
        if self.backfills:
            parts.append(f"{self.backfills} backfill{'s' * (self.backfills != 1)} advanced")
        if self.next_due is not None:
            parts.append(f"next due {self.next_due.strftime('%H:%M:%S')}Z")
        return ", ".join(parts)


@dataclass(slots=True)
class _Outcome:
    events: list[Event] = field(default_factory=list)
    ticks: list[TickRecord] = field(default_factory=list)
    cursor: str | None = None
    error: str | None = None


def utc_now() -> dt.datetime:
    return dt.datetime.now(UTC)


class Scheduler:
    """The scheduler of ``definitions`` on the store of ``settings``. ``clock`` (tests)
    gives the current instant; ``owner`` names this process in the daemon lease;
    ``lease_ttl`` is how long that lease lasts unrenewed (default: the ``lease_ttl``
    setting). Close it with ``close()`` (or use it as a context manager)."""

    def __init__(self, settings: Settings, definitions: Definitions, *,
                 clock: Callable[[], dt.datetime] | None = None, owner: str | None = None,
                 lease_ttl: float | None = None, store: SqlStore | None = None) -> None:
        self.settings = settings
        self.definitions = definitions
        self.triggers: dict[str, Trigger] = definitions.triggers()
        self.clock = clock or utc_now
        self.owner = owner or new_owner()
        self.lease_ttl = lease_ttl if lease_ttl is not None else settings.lease_ttl
        self._own_store = store is None
        self.store = store or SqlStore(settings.store_url, durability=settings.durability)
        record_definitions(self.store, definitions)  # the catalog, for who never imports them
        self._due: dict[str, dt.datetime] = {}
        self._failures: dict[str, int] = {}
        self._orphans: set[str] = set()
        self._standing_by = False
        self.active = False
        """Whether this scheduler evaluates triggers (False: it stands by)."""

    def close(self) -> None:
        if self._own_store:
            self.store.close()

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one pass -----------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Evaluate every due trigger once and save what it did. Store errors propagate
        (``run`` retries them); any other failure is recorded on its trigger."""
        now = self.clock()
        states = read_triggers(self.store)
        counts = {"evaluated": 0, "requested": 0, "skipped": 0, "lost": 0}
        failed: list[str] = []
        self._record_orphans(states, now, counts)
        due = [key for key in self.triggers if self._due.get(key, now) <= now]
        materializations = self._materializations(due)
        pending: list[tuple[str, TriggerState | None, _Outcome]] = []
        for key in due:
            state = states.get(key)
            outcome = self._evaluate(self.triggers[key], state, now, materializations)
            if outcome is None:  # nothing new: nothing to write
                self._due[key] = self._next(key, state.cursor if state else None, now)
            else:
                pending.append((key, state, outcome))
        for start in range(0, len(pending), BATCH):
            batch = pending[start:start + BATCH]
            results = save_evaluations(self.store, [EvaluationSave(
                trigger_key=key, seen=state, cursor=outcome.cursor, requests=outcome.events,
                ticks=outcome.ticks, error=outcome.error) for key, state, outcome in batch])
            for (key, state, outcome), saved in zip(batch, results, strict=True):
                counts["evaluated"] += 1
                if saved is None:
                    counts["lost"] += 1
                    self._due[key] = now  # look again, at the state the other one saved
                    continue
                counts["requested"] += sum(saved)
                counts["skipped"] += (sum(t.status == "skipped" for t in outcome.ticks)
                                      + saved.count(False))
                if outcome.error is not None:
                    failed.append(key)
                    self._due[key] = self._after_failure(key, outcome.cursor, now,
                                                         state.cursor if state else None)
                else:
                    self._failures.pop(key, None)
                    self._due[key] = self._next(key, outcome.cursor, now)
        next_due = min(self._due.values(), default=None)
        return TickReport(at=now, failed=tuple(failed), next_due=next_due,
                          backfills=self._advance_backfills(), **counts)

    def _advance_backfills(self) -> int:
        """Advance every running backfill of these definitions (``daemon/backfill.py``):
        its next partitions are enqueued while fewer than its limit run, and it ends once
        they all have. Several schedulers may do so at once (planning is compare-and-set).
        A backfill of assets these definitions do not have is left to whoever has them."""
        from legato.daemon.backfill import advance_backfill
        from legato.store.backfills import list_backfills

        advanced = 0
        for backfill in list_backfills(self.store, status="running", limit=100):
            if not all(key in self.definitions.assets
                       for key in backfill.spec.get("selection", ())):
                continue
            try:
                advance_backfill(self.store, backfill, self.definitions)
            except LegatoError as error:
                if isinstance(error, StoreError):
                    raise
                logger.warning("backfill %s: %s", backfill.backfill_id, error)
                continue
            advanced += 1
        return advanced

    def _evaluate(self, trigger: Trigger, state: TriggerState | None, now: dt.datetime,
                  materializations: Mapping[str, str] | None) -> _Outcome | None:
        """What to save for ``trigger`` at ``now``; None when there is nothing new."""
        key = trigger.trigger_key
        cursor = state.cursor if state else None
        paused = state is not None and state.paused
        at = now.timestamp()
        try:
            evaluation = self._call(trigger, cursor, now, paused, materializations)
            outcome = self._outcome(trigger, evaluation, paused, at)
        except Exception as error:  # a trigger's bug must not stop the others
            logger.warning("trigger %s failed: %s: %s", key, type(error).__name__, error)
            message = f"{key} failed: {type(error).__name__}: {error}"
            return _Outcome(cursor=cursor, error=message, ticks=[
                TickRecord(trigger_key=key, tick_key=None, at=at, status="failed",
                           detail=message)])
        if outcome.error is not None:
            logger.warning("%s", outcome.error.splitlines()[0])
        if (state is not None and outcome.cursor == cursor and not outcome.ticks
                and state.last_error is None):
            return None
        return outcome

    def _call(self, trigger: Trigger, cursor: str | None, now: dt.datetime, paused: bool,
              materializations: Mapping[str, str] | None) -> Evaluation:
        if isinstance(trigger, SensorDefinition):
            if paused:  # its function is not called
                return trigger.pass_over(cursor, now)
            return trigger.evaluate(cursor, now, timeout=self.settings.sensor_timeout)
        if isinstance(trigger, AssetTriggerDefinition):
            return trigger.evaluate(cursor, now, materializations=materializations)
        return trigger.evaluate(cursor, now)

    def _outcome(self, trigger: Trigger, evaluation: Evaluation, paused: bool,
                 at: float) -> _Outcome:
        key = trigger.trigger_key
        outcome = _Outcome(cursor=evaluation.cursor, error=evaluation.error)
        for request in evaluation.run_requests:
            tick = short_key(request.tick_key)
            if paused:
                outcome.ticks.append(TickRecord(trigger_key=key, tick_key=tick, at=at,
                                                status="skipped", detail="paused"))
                continue
            event = self._queued(request)
            outcome.events.append(event)
            outcome.ticks.append(TickRecord(trigger_key=key, tick_key=tick, at=at,
                                            status="requested", run_id=event.run_id))
        for skipped in evaluation.skipped:
            span = (skipped.first.key if skipped.first == skipped.last
                    else f"{skipped.first.key}..{skipped.last.key}")
            outcome.ticks.append(TickRecord(trigger_key=key, tick_key=span, at=at,
                                            status="skipped", detail=skipped.reason))
        if evaluation.reason is not None:
            outcome.ticks.append(TickRecord(trigger_key=key, tick_key=None, at=at,
                                            status="skipped", detail=evaluation.reason))
        if evaluation.error is not None:
            outcome.ticks.append(TickRecord(trigger_key=key, tick_key=None, at=at,
                                            status="failed", detail=evaluation.error))
        return outcome

    def _queued(self, request: RunRequest) -> Event:
        from legato.engine.session import new_run_id

        params = dict(request.params)
        try:
            json.dumps(params)
        except (TypeError, ValueError) as error:
            raise ValueError(f"its run's params are not JSON ({error}): {params!r}") from None
        assets = request.flow is None
        return queued_event(
            new_run_id(), kind="assets" if assets else "flow",
            target=(RunTarget.assets(request.selection) if assets
                    else RunTarget.flow(str(request.flow))).text,
            params=params, source=self.definitions.source, trigger_key=request.trigger_key,
            partition_key=request.partition_key, idempotency_key=short_key(request.run_key),
            selection=list(request.selection) if assets else None,
            logical=request.logical.to_data() if request.logical is not None else None)

    def _record_orphans(self, states: Mapping[str, TriggerState], now: dt.datetime,
                        counts: dict[str, int]) -> None:
        """A failed tick, once, for each trigger the store has and the definitions lost."""
        for key, state in states.items():
            if key in self.triggers or key in self._orphans:
                continue
            message = (f"{key} is no longer defined (its definition, or the flow or assets "
                       "it ran, were removed): it requests no runs; define it again, or "
                       "ignore this")
            self._orphans.add(key)  # once per process
            if state.last_error == message:
                continue
            logger.warning("%s", message)
            tick = TickRecord(trigger_key=key, tick_key=None, at=now.timestamp(),
                              status="failed", detail=message)
            if save_evaluation(self.store, key, state, cursor=state.cursor, ticks=[tick],
                               error=message) is not None:
                counts["evaluated"] += 1

    def _materializations(self, due: Sequence[str]) -> dict[str, str] | None:
        """The newest materialization id of every asset a due asset trigger watches."""
        watching = [t for t in (self.triggers[key] for key in due)
                    if isinstance(t, AssetTriggerDefinition)]
        keys = sorted({k for t in watching for k in t.upstream})
        if not keys:
            return None
        return self.store.latest_materialization_ids(keys)

    def _next(self, key: str, cursor: str | None, now: dt.datetime) -> dt.datetime:
        found = self.triggers[key].next_evaluation(cursor, now)
        return found if found is not None else dt.datetime.max.replace(tzinfo=UTC)

    def _after_failure(self, key: str, cursor: str | None, now: dt.datetime,
                       old_cursor: str | None) -> dt.datetime:
        """A trigger that failed without moving on is tried again later and later."""
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        if cursor != old_cursor:  # it moved on (a sensor's tick): its own cadence
            return self._next(key, cursor, now)
        delay = min(MAX_FAILURE_DELAY, self.settings.scheduler_tick * 2 ** (failures - 1))
        return now + dt.timedelta(seconds=delay)

    # -- the loop -----------------------------------------------------------------------

    def run(self, stop: threading.Event, *,
            on_tick: Callable[[TickReport], None] | None = None) -> None:
        """Loop until ``stop`` is set. ``on_tick`` sees each pass's report."""
        singleton = not self.store.capabilities.concurrent_schedulers
        store_failures = 0
        try:
            while not stop.is_set():
                try:
                    if singleton and not self._hold(stop):
                        continue
                    report = self.tick()
                    store_failures = 0
                except StoreError as error:
                    store_failures += 1
                    delay = min(MAX_STORE_DELAY, 0.25 * 2 ** store_failures)
                    delay *= random.uniform(0.8, 1.2)
                    logger.warning("the store failed (%s); trying again in %.1fs",
                                   str(error).splitlines()[0], delay)
                    stop.wait(delay)
                    continue
                if on_tick is not None:
                    on_tick(report)
                stop.wait(self._sleep(report))
        finally:
            if singleton and self.active:
                try:
                    release_daemon(self.store, ROLE, self.owner)
                except StoreError as error:
                    logger.warning("could not release the scheduler lease: %s", error)
            self.active = False

    def _hold(self, stop: threading.Event) -> bool:
        """Take or renew the scheduler lease; when another process holds it, stand by
        (unless it is a process of this host that died: then take over at once)."""
        held = hold_daemon(self.store, ROLE, self.owner, self.lease_ttl)
        holder = None if held else daemon_holder(self.store, ROLE)
        if holder is not None and owner_is_dead(holder[0]):  # killed, on this host
            logger.info("the scheduler that held the lease (%s) has died: taking over",
                        holder[0])
            release_daemon(self.store, ROLE, holder[0], reason="died")
            held = hold_daemon(self.store, ROLE, self.owner, self.lease_ttl)
        if held:
            if not self.active:
                logger.info("scheduler %s is active (it holds the scheduler lease)",
                            self.owner)
                self._due.clear()  # evaluate everything afresh
            self.active, self._standing_by = True, False
            return True
        if not self._standing_by:
            who = holder[0] if holder else "another process"
            logger.info("another scheduler (%s) is active on this store; standing by "
                        "until its lease expires", who)
            self._standing_by = True
        self.active = False
        stop.wait(min(self.settings.scheduler_tick, self.lease_ttl / 3))
        return False

    def _sleep(self, report: TickReport) -> float:
        longest = self.settings.scheduler_tick
        if self.active:  # wake up in time to renew the lease
            longest = min(longest, self.lease_ttl / 3)
        if report.next_due is None:
            return longest
        until = (report.next_due - self.clock()).total_seconds()
        return max(0.01, min(longest, until))


def short_key(key: str) -> str:
    """``key`` if the store can keep it, else its start and a digest of it."""
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[:MAX_KEY - 34]}#{digest}"
