"""Sensors: a user function the scheduler polls every ``interval``, which asks for runs.

::

    @lg.sensor(interval="30s", flow=ingest)
    def new_files(ctx: lg.SensorContext):
        files = list_files(after=ctx.cursor)
        if not files:
            return "no new files"                      # a skip reason (or None)
        ctx.cursor = files[-1]                         # kept in the store for next time
        return [lg.RunRequest(run_key=f, params={"path": f}) for f in files]

The function returns ``lg.RunRequest``\\ s (one or a list), None, or a string saying why it
requests nothing. A request's ``run_key`` makes it idempotent: a key is run once, ever
(``sensor:new_files@<run_key>`` is the run's unique key); without one, each evaluation's
requests are keyed by its tick. ``ctx.cursor`` is text the function may set; it is saved
with the evaluation's runs in one transaction, so a restarted scheduler goes on from it.

The function runs in a thread with a timeout (``timeout=``, else the ``sensor_timeout``
setting). One that raises or takes too long gives a failed tick with the error: its
cursor is left as it was, and the scheduler goes on with the other triggers. A hung
function's thread cannot be stopped: the sensor is not evaluated again until it returns.

Sensors are evaluated on a grid of ``interval`` through the Unix epoch: one evaluation per
grid tick is saved, whichever scheduler process made it (the tick is kept in the cursor).
With several schedulers on PostgreSQL, two may call the function for the same tick; only
one's requests and cursor are kept.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from legato.definitions.source import SourceLocation, caller_location, docstring_of
from legato.definitions.validation import definition_name, where_defined
from legato.errors import DefinitionError, Problem
from legato.scheduler import trigger
from legato.scheduler.interval import IntervalCadence, check_interval, describe_seconds
from legato.scheduler.targets import describe_target, run_target
from legato.scheduler.timezones import parse_instant, require_aware, tick_key

DEFAULT_INTERVAL = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    """A run a sensor asks for. ``run_key`` (optional) names it: a key is run at most
    once, across all evaluations; ``params`` are a flow's parameters (or an asset run's
    ``ctx.params``); ``partition_key`` is the partition an asset run computes."""

    run_key: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    partition_key: str | None = None


class SensorContext:
    """What a sensor's function receives: ``cursor`` (text it set last time, None at first;
    set it to remember where it got to), ``now`` (the evaluation's instant, UTC) and the
    sensor's ``name``."""

    __slots__ = ("cursor", "name", "now")

    def __init__(self, name: str, now: dt.datetime, cursor: str | None) -> None:
        self.name = name
        self.now = now
        self.cursor = cursor

    def __repr__(self) -> str:
        return f"SensorContext(name={self.name!r}, cursor={self.cursor!r})"


class _InFlight:
    """The thread of an evaluation that timed out, while it still runs."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None

    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorDefinition:
    """A sensor: its function, how often it is polled, and what its requests run."""

    name: str
    fn: Callable[..., Any]
    interval: int
    """Seconds between two evaluations."""
    flow: str | None = None
    selection: tuple[str, ...] = ()
    timeout: float | None = None
    """Seconds the function may take; None: the ``sensor_timeout`` setting."""
    description: str | None = None
    location: SourceLocation = field(default=SourceLocation(None, None), compare=False)
    _in_flight: _InFlight = field(default_factory=_InFlight, compare=False, repr=False)

    @property
    def trigger_key(self) -> str:
        return f"sensor:{self.name}"

    @property
    def target(self) -> str:
        return describe_target(self.flow, self.selection)

    @property
    def cadence(self) -> IntervalCadence:
        return IntervalCadence(self.interval)

    def describe(self) -> str:
        return f"sensor, every {describe_seconds(self.interval)}"

    # -- the Trigger interface ----------------------------------------------------------

    def evaluate(self, cursor: str | None, now: dt.datetime, *,
                 timeout: float = 60.0) -> trigger.Evaluation:
        """Call the function if a grid tick passed since the last evaluation; its
        requests, and the cursor to save (the tick and what the function set)."""
        last, user_cursor = read_cursor(cursor)
        tick = self.cadence.latest_at_or_before(require_aware(now, "now"))
        assert tick is not None
        if last is not None and tick <= last:
            return trigger.Evaluation((), cursor)  # evaluated at this tick already
        key = tick_key(tick)
        context = SensorContext(self.name, now, user_cursor)
        result, error = self._call(context, self.timeout or timeout)
        if error is None:
            try:
                requests, reason = self._requests(result, key)
                if context.cursor is not None and not isinstance(context.cursor, str):
                    raise TypeError(f"ctx.cursor must be text (a str; json.dumps it), not "
                                    f"{type(context.cursor).__name__}")
            except (TypeError, ValueError) as wrong:
                error = f"sensor '{self.name}' {wrong}"
            else:
                return trigger.Evaluation(requests, write_cursor(key, context.cursor),
                                          reason=reason)
        return trigger.Evaluation((), write_cursor(key, user_cursor), error=error)

    def pass_over(self, cursor: str | None, now: dt.datetime) -> trigger.Evaluation:
        """What a paused sensor does at ``now``: nothing, without calling its function
        (its own cursor is kept)."""
        last, user_cursor = read_cursor(cursor)
        tick = self.cadence.latest_at_or_before(require_aware(now, "now"))
        assert tick is not None
        if last is not None and tick <= last:
            return trigger.Evaluation((), cursor)
        return trigger.Evaluation((), write_cursor(tick_key(tick), user_cursor),
                                  reason="paused")

    def next_evaluation(self, cursor: str | None, now: dt.datetime) -> dt.datetime | None:
        after = require_aware(now, "now")
        last, _ = read_cursor(cursor)
        if last is not None:
            after = max(after, last)
        return self.cadence.next_after(after)

    # -- the parts ---------------------------------------------------------------------

    def _call(self, context: SensorContext, timeout: float) -> tuple[Any, str | None]:
        """Run the function in a thread: (what it returned, None), or (None, the error as
        text) if it raised or timed out."""
        if self._in_flight.busy():
            return None, (f"sensor '{self.name}' is still running its evaluation that timed out; "
                    "it is evaluated again once that returns")
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                result = self.fn(context) if _takes_context(self.fn) else self.fn()
                if inspect.iscoroutine(result):
                    result = asyncio.run(result)
                outcome["result"] = result
            except BaseException as raised:  # user code: everything is its failure
                outcome["error"] = (f"sensor '{self.name}' raised "
                                    f"{type(raised).__name__}: {raised}\n"
                                    + "".join(traceback.format_exception(raised)))

        thread = threading.Thread(target=call, name=f"legato-sensor-{self.name}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            self._in_flight.thread = thread
            return None, (f"sensor '{self.name}' took longer than its timeout of {timeout:g}s; "
                    "make it faster, or raise timeout= (or the sensor_timeout setting)")
        if "error" in outcome:
            return None, str(outcome["error"])
        return outcome.get("result"), None

    def _requests(self, result: object, key: str
                  ) -> tuple[tuple[trigger.RunRequest, ...], str | None]:
        if result is None:
            return (), None
        if isinstance(result, str):
            return (), result
        items = [result] if isinstance(result, RunRequest) else (
            list(result) if isinstance(result, Iterable) and not isinstance(result, Mapping)
            else None)
        if items is None or not all(isinstance(item, RunRequest) for item in items):
            raise TypeError(f"returned {result!r}; return lg.RunRequest(...), a list of "
                            "them, None, or a string saying why no run is requested")
        requests = []
        for i, item in enumerate(items):
            if item.run_key is not None and (not isinstance(item.run_key, str)
                                             or not item.run_key):
                raise ValueError(f"returned a run_key {item.run_key!r}: it must be "
                                 "non-empty text")
            tick = item.run_key or (key if i == 0 else f"{key}#{i}")
            requests.append(trigger.RunRequest(
                trigger_key=self.trigger_key, tick_key=tick, flow=self.flow,
                selection=self.selection, params=dict(item.params),
                partition_key=item.partition_key, scheduled_at=parse_instant(key)))
        return tuple(requests), None

    def __repr__(self) -> str:
        return f"<sensor {self.name}: {self.target}, every {describe_seconds(self.interval)}>"


def read_cursor(cursor: str | None) -> tuple[dt.datetime | None, str | None]:
    """(the last tick evaluated, the function's own cursor) from a stored cursor."""
    if not cursor:
        return None, None
    data = json.loads(cursor)
    at = data.get("at")
    return (parse_instant(at) if at else None), data.get("cursor")


def write_cursor(at: str, user_cursor: str | None) -> str:
    return json.dumps({"at": at, "cursor": user_cursor}, separators=(",", ":"))


def _takes_context(fn: Callable[..., Any]) -> bool:
    try:
        return bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return True


@overload
def sensor(fn: Callable[..., Any], /) -> SensorDefinition: ...


@overload
def sensor(
    *, interval: str | float | dt.timedelta = ..., flow: object = ...,
    selection: object = ..., timeout: str | float | None = ..., name: str | None = ...,
    description: str | None = ...,
) -> Callable[[Callable[..., Any]], SensorDefinition]: ...


def sensor(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    interval: str | float | dt.timedelta = DEFAULT_INTERVAL,
    flow: object = None,
    selection: object = None,
    timeout: str | float | None = None,
    name: str | None = None,
    description: str | None = None,
) -> SensorDefinition | Callable[[Callable[..., Any]], SensorDefinition]:
    """Poll the decorated function every ``interval`` (``"30s"``, ``"5m"``); its
    ``lg.RunRequest``\\ s start runs of ``flow`` (an ``@lg.flow`` or its name) or of the
    asset ``selection`` (``"*model"``). ``timeout`` bounds each call (``"10s"``)."""
    where = caller_location()

    def decorate(function: Callable[..., Any]) -> SensorDefinition:
        if not callable(function):
            raise DefinitionError([Problem(f"@lg.sensor must decorate a function, not "
                                           f"{function!r}", where.file, where.line)])
        located = where_defined(function)
        sensor_name = definition_name("sensor", name, function, located)
        try:
            seconds = check_interval(interval)
            flow_name, keys = run_target(flow, selection, f"sensor '{sensor_name}'")
            limit = _timeout(timeout)
            _check_signature(function)
        except ValueError as error:
            raise DefinitionError([Problem(f"@lg.sensor: {error}", located.file,
                                           located.line)]) from None
        return SensorDefinition(name=sensor_name, fn=function, interval=seconds,
                                flow=flow_name, selection=keys, timeout=limit,
                                description=description or docstring_of(function),
                                location=located)

    if fn is not None:
        return decorate(fn)
    return decorate


def _timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    from legato.definitions.options import parse_duration

    if isinstance(timeout, bool) or not isinstance(timeout, int | float | str):
        raise ValueError(f"timeout is a duration such as '10s' or 30 (seconds), not "
                         f"{timeout!r}")
    seconds = parse_duration(timeout, what="timeout")
    if seconds is None or seconds <= 0:
        raise ValueError(f"timeout must be more than 0 seconds, not {timeout!r}")
    return float(seconds)


def _check_signature(fn: Callable[..., Any]) -> None:
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.default is inspect.Parameter.empty
                  and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        return
    if len(params) > 1:
        raise ValueError(f"a sensor's function takes one argument, its context (ctx), not "
                         f"{', '.join(p.name for p in params)}")
