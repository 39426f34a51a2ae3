"""The definitions catalog: what a project defines, as plain data, for the processes that
must never import its code (the web process, the MCP server, ``legato assets`` without a
file, ``lg.read`` in another process).

A ``Catalog`` holds the metadata of a project's assets (upstream assets, description,
owner, code version, partitions, retry/timeout/cache/fallback policies, and room for
groups and checks), tasks and flows (their parameters' names, kinds, annotations and
defaults) and triggers (schedules, sensors and asset-event triggers: what they run, their
cron or interval spec and timezone, catch-up policy, and whether they start paused).
Functions are not in it: only what can be shown and compared.

Writer processes record a snapshot of the definitions they load
(``legato.definitions.recording``); the store keeps each snapshot once, by the sha256 of
its canonical JSON (keys sorted, no spaces, entries sorted by name: the same definitions
give the same hash in every process, whatever order they were declared in), and points
each code location to its current one. Next ticks change with time, so they are not
stored: ``next_ticks`` computes them from the stored spec when read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from legato.store.catalog import CatalogRow
    from legato.store.reader import StoreReads

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryEntry:
    """``lg.Retry``: retries after the first attempt, and the delay between them."""

    retries: int = 0
    backoff: str = "exponential"
    base: float = 1.0
    max_delay: float = 300.0
    jitter: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    """A cache policy: ``by`` the step's inputs or a key function, expiring or not."""

    by: str  # inputs | key
    expires_after: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepPolicy:
    """What an asset or a task does on failure and how its results are kept."""

    retry: RetryEntry = field(default_factory=RetryEntry)
    timeout: float | None = None
    cache: CacheEntry | None = None
    fallback: str | None = None  # last_good | function
    io: str = "auto"
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamEntry:
    """A parameter of a flow or task. ``default`` is its default when that is a JSON value;
    ``default_repr`` describes any other default."""

    name: str
    kind: str  # positional_or_keyword | keyword_only | positional_only | var_positional | ...
    annotation: str | None = None
    has_default: bool = False
    default: Any = None
    default_repr: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetEntry:
    key: str
    description: str | None = None
    owner: str | None = None
    group: str | None = None
    """Assets have no groups yet (the web UI's issue adds them)."""
    code_version: str = ""
    inputs: tuple[str, ...] = ()
    """Upstream assets whose values are passed in, in parameter order."""
    deps: tuple[str, ...] = ()
    """Upstream assets that must materialize first, without passing their value."""
    partitions: Mapping[str, Any] | None = None
    """The partitions' own JSON (``{"kind": "daily", "start": ..., "tz": ...}``)."""
    partition_mappings: Mapping[str, str] = field(default_factory=dict)
    """Upstream asset -> the mapping's name, for upstreams whose mapping was given."""
    policy: StepPolicy = field(default_factory=StepPolicy)
    checks: tuple[Mapping[str, Any], ...] = ()
    """Room for the trust layer's checks."""
    is_async: bool = False
    location: str | None = None
    """``file:line`` where it is defined."""

    @property
    def upstream(self) -> tuple[str, ...]:
        return self.inputs + tuple(d for d in self.deps if d not in self.inputs)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEntry:
    name: str
    description: str | None = None
    code_version: str = ""
    params: tuple[ParamEntry, ...] = ()
    policy: StepPolicy = field(default_factory=StepPolicy)
    is_async: bool = False
    location: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowEntry:
    name: str
    description: str | None = None
    params: tuple[ParamEntry, ...] = ()
    is_async: bool = False
    location: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CadenceEntry:
    """When a schedule or a sensor fires: a cron ``expression`` in ``tz``, or every
    ``seconds`` on a grid through ``anchor`` (ISO 8601; shown in UTC)."""

    kind: str  # cron | interval
    tz: str = "UTC"
    expression: str | None = None
    seconds: int | None = None
    anchor: str | None = None

    def describe(self) -> str:
        if self.kind == "cron":
            return f"cron '{self.expression}' ({self.tz})"
        from legato.scheduler.interval import describe_seconds

        return f"every {describe_seconds(self.seconds or 0)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerEntry:
    """A schedule, a sensor or an asset-event trigger, by its trigger key."""

    key: str  # schedule:nightly | sensor:new_files | asset_trigger:report
    kind: str  # schedule | sensor | asset_trigger
    name: str
    flow: str | None = None
    selection: tuple[str, ...] = ()
    description: str | None = None
    cadence: CadenceEntry | None = None
    """A schedule's cron or interval, a sensor's interval; None for asset triggers."""
    catch_up: str | None = None  # a schedule's: none | latest | all
    catch_up_limit: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    fills: tuple[str, ...] = ()
    """A scheduled flow's parameters that each run gets from its tick."""
    partitions: Mapping[str, Any] | None = None
    """The time partitions a schedule of partitioned assets runs (one per tick)."""
    timeout: float | None = None  # a sensor's
    upstream: tuple[str, ...] = ()  # an asset trigger's watched assets
    mode: str | None = None  # an asset trigger's: any | all
    paused_by_default: bool = False
    """Every trigger starts unpaused today (``legato schedules pause`` pauses it)."""
    location: str | None = None

    @property
    def target(self) -> str:
        """``flow nightly`` or ``assets *model, report``, as ``legato schedules`` shows."""
        return f"flow {self.flow}" if self.flow else f"assets {', '.join(self.selection)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    """A snapshot of one code location's definitions (or, from ``merge``, of several).

    ``digest``, ``locations`` and ``recorded_at`` say which snapshot it is; they are not
    part of its content (nor of its hash)."""

    assets: Mapping[str, AssetEntry] = field(default_factory=dict)
    tasks: Mapping[str, TaskEntry] = field(default_factory=dict)
    flows: Mapping[str, FlowEntry] = field(default_factory=dict)
    triggers: Mapping[str, TriggerEntry] = field(default_factory=dict)
    digest: str = ""
    locations: tuple[str, ...] = ()
    recorded_at: float | None = None

    def upstream(self, key: str) -> tuple[str, ...]:
        """The assets ``key`` depends on (none for an unknown asset)."""
        found = self.assets.get(key)
        return found.upstream if found is not None else ()

    def downstream(self, key: str) -> tuple[str, ...]:
        """The assets that depend on ``key`` directly, by key."""
        return tuple(k for k, a in self.assets.items() if key in a.upstream)

    def triggers_of(self, kind: str) -> tuple[TriggerEntry, ...]:
        """The triggers of one kind (``schedule``, ``sensor``, ``asset_trigger``)."""
        return tuple(t for t in self.triggers.values() if t.kind == kind)

    def to_json(self) -> dict[str, Any]:
        """The content, as JSON values: what is hashed and stored."""
        from legato.definitions.recording import FORMAT

        return {"format": FORMAT,
                **{name: [_plain(item) for _, item in sorted(getattr(self, name).items())]
                   for name in ("assets", "tasks", "flows", "triggers")}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, digest: str = "",
                  locations: tuple[str, ...] = (), recorded_at: float | None = None
                  ) -> Catalog:
        """Read a snapshot; fields it does not know (a newer writer's) are left out."""
        return cls(
            assets=_by("key", (_asset(a) for a in data.get("assets", ()))),
            tasks=_by("name", (_task(t) for t in data.get("tasks", ()))),
            flows=_by("name", (_flow(f) for f in data.get("flows", ()))),
            triggers=_by("key", (_trigger(t) for t in data.get("triggers", ()))),
            digest=digest, locations=locations, recorded_at=recorded_at)

    def text(self) -> str:
        """The canonical JSON of the content, whose sha256 is its ``digest``."""
        from legato.store.catalog import canonical_json

        return canonical_json(self.to_json())


def merge(catalogs: Iterable[Catalog]) -> Catalog:
    """One catalog of several locations': where two define the same name, the one
    recorded last wins (then the first location by name)."""
    ordered = sorted(catalogs, key=lambda c: (-(c.recorded_at or 0.0), c.locations))
    if len(ordered) == 1:
        return ordered[0]

    def union(name: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for catalog in reversed(ordered):  # the newest last: it overrides
            found.update(getattr(catalog, name))
        return dict(sorted(found.items()))

    return Catalog(assets=union("assets"), tasks=union("tasks"), flows=union("flows"),
                   triggers=union("triggers"),
                   locations=tuple(sorted(loc for c in ordered for loc in c.locations)),
                   recorded_at=max((c.recorded_at or 0.0 for c in ordered), default=None))


def from_row(row: CatalogRow) -> Catalog:
    return Catalog.from_json(json.loads(row.body), digest=row.snapshot_hash,
                             locations=(row.location,), recorded_at=row.recorded_at)


def current_catalog(reader: StoreReads, location: str | None = None) -> Catalog | None:
    """The current catalog of ``location`` (``module:pkg.mod``, ``file:/path.py``, or
    ``code``); without one, of every location the store knows, merged (``merge``). None
    when nothing was recorded (a store written only by a legato before the catalog)."""
    rows = reader.current_catalogs()
    if location is not None:
        rows = [row for row in rows if row.location == location]
    if not rows:
        return None
    return merge(from_row(row) for row in rows)


def next_ticks(trigger: TriggerEntry, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
    """The next ``count`` instants (UTC) at which ``trigger`` fires after ``after`` (an
    aware datetime: now, or its last tick when later); none for asset-event triggers, which
    fire on materializations. Computed when read: only the spec is stored."""
    cadence = trigger.cadence
    if cadence is None:
        return []
    if cadence.kind == "cron":
        from legato.scheduler.cron import CronCadence

        assert cadence.expression is not None
        ticks = CronCadence(cadence.expression, cadence.tz).iter_after(after)
    else:
        from legato.scheduler.interval import EPOCH, IntervalCadence

        anchor = dt.datetime.fromisoformat(cadence.anchor) if cadence.anchor else EPOCH
        ticks = IntervalCadence(cadence.seconds or 1, anchor).iter_after(after)
    found: list[dt.datetime] = []
    for tick in ticks:
        if len(found) >= count:
            break
        found.append(tick)
    return found


# -- JSON in and out --------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A catalog entry as JSON values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _by(name: str, items: Iterable[T]) -> dict[str, T]:
    return {getattr(item, name): item for item in sorted(items, key=lambda i: getattr(i, name))}


def _load(cls: Callable[..., T], data: Mapping[str, Any], known: Iterable[str],
          **nested: Callable[[Any], Any]) -> T:
    """``cls`` from the ``known`` fields of ``data`` (others are ignored): lists become
    tuples, and ``nested`` fields are read by their own function."""
    values: dict[str, Any] = {}
    for name in known:
        if name not in data:
            continue
        value = data[name]
        if name in nested and value is not None:
            value = nested[name](value)
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return cls(**values)


def _names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _policy(data: Mapping[str, Any]) -> StepPolicy:
    return _load(StepPolicy, data, _names(StepPolicy),
                 retry=lambda d: _load(RetryEntry, d, _names(RetryEntry)),
                 cache=lambda d: _load(CacheEntry, d, _names(CacheEntry)))


def _params(items: Iterable[Mapping[str, Any]]) -> tuple[ParamEntry, ...]:
    return tuple(_load(ParamEntry, p, _names(ParamEntry), default=lambda v: v)
                 for p in items)


def _asset(data: Mapping[str, Any]) -> AssetEntry:
    return _load(AssetEntry, data, _names(AssetEntry), policy=_policy,
                 partitions=dict, partition_mappings=dict,
                 checks=lambda items: tuple(dict(c) for c in items))


def _task(data: Mapping[str, Any]) -> TaskEntry:
    return _load(TaskEntry, data, _names(TaskEntry), policy=_policy, params=_params)


def _flow(data: Mapping[str, Any]) -> FlowEntry:
    return _load(FlowEntry, data, _names(FlowEntry), params=_params)


def _trigger(data: Mapping[str, Any]) -> TriggerEntry:
    return _load(TriggerEntry, data, _names(TriggerEntry), params=dict, partitions=dict,
                 cadence=lambda d: _load(CadenceEntry, d, _names(CadenceEntry)))
