"""Snapshots of loaded definitions (``catalog_of``), and their recording in the store by
every process that loads definitions to write runs (``record_definitions``).

A snapshot is deterministic: entries are sorted by name, and nothing in it depends on the
process (no memory addresses, no order of declaration, no time), so the same definitions
give the same hash everywhere. Recording is cheap when nothing changed: the snapshot of a
``Definitions`` object is built once per process, and a store that holds it as current
already costs one lookup by primary key the first time and nothing after; nothing is
written. A snapshot that cannot be built or recorded is logged, never fatal: the catalog
describes runs, it must not stop them.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from legato.definitions.asset import AssetDefinition
from legato.definitions.options import LastGood
from legato.definitions.source import SourceLocation
from legato.definitions.step_options import StepOptions
from legato.definitions.task import TaskDefinition
from legato.errors import LegatoError
from legato.store.catalog import canonical_json, content_hash

if TYPE_CHECKING:
    from legato.definitions.catalog import Catalog
    from legato.definitions.definitions import Definitions
    from legato.store.sql_store import SqlStore

logger = logging.getLogger(__name__)

FORMAT = 1
"""The snapshot's format. Fields may be added within a format (readers ignore the fields
they do not know); it rises only when a field changes meaning."""
CODE_LOCATION = "code"
"""The location of definitions built in code (not loaded from one module or file)."""

Step = AssetDefinition[Any, Any] | TaskDefinition[Any, Any]
CodeVersion = Callable[[Step], str]
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_KEEP = 16
"""Snapshots and stamps kept per process (one per ``Definitions`` object: a worker may hold several
sources' definitions)."""

_lock = threading.Lock()
_snapshots: OrderedDict[tuple[int, str], tuple[Definitions, str, str]] = OrderedDict()
_recorded: weakref.WeakKeyDictionary[SqlStore, dict[str, str]] = weakref.WeakKeyDictionary()


def catalog_of(defs: Definitions) -> Catalog:
    """The catalog of ``defs``: every asset, task, flow and trigger, as data."""
    from legato.definitions.catalog import Catalog

    return Catalog.from_json(snapshot_json(defs))


def snapshot_json(defs: Definitions, *, code: CodeVersion | None = None) -> dict[str, Any]:
    """The catalog of ``defs`` as JSON values, entries sorted by name. Built as plain dicts
    (the fields of ``legato.definitions.catalog``'s entries): a writer process pays for no
    dataclass, which matters with thousands of assets. ``code`` gives an asset's or task's
    code version (default: its ``code_version``)."""
    version = code or _code_version
    return {
        "format": FORMAT,
        "assets": [_asset(defs.assets[key], version) for key in sorted(defs.assets)],
        "tasks": [_task(task, version) for _, task in sorted(defs.tasks.items())],
        "flows": [{"name": name, "description": flow.description, "params": _params(flow.fn),
                   "is_async": flow.is_async, "location": _where(flow.location)}
                  for name, flow in sorted(defs.flows.items())],
        "triggers": [_trigger(item) for _, item in sorted(defs.triggers().items())],
    }


def snapshot_of(defs: Definitions) -> tuple[str, str]:
    """(hash, canonical JSON) of ``defs``' catalog, built once per ``Definitions``."""
    return _once(defs, "snapshot", lambda: canonical_json(snapshot_json(defs)))


def stamp_of(defs: Definitions) -> str:
    """A digest of what ``defs``' snapshot is built from, at a fraction of its cost: the
    snapshot with each code version that would be read from source replaced by where that
    source is (file, its size and modification time, line, name). The code versions are
    what costs (``inspect.getsource`` of every function: seconds for 10,000 assets in one
    file); the same stamp means the same snapshot. It depends on the files' times, so
    another checkout of the same code has another stamp (and builds the snapshot once)."""
    stats: dict[str, str | None] = {}
    return _once(defs, "stamp", lambda: canonical_json(
        snapshot_json(defs, code=lambda d: _code_place(d, stats))))[0]


def _once(defs: Definitions, kind: str, build: Callable[[], str]) -> tuple[str, str]:
    """(hash, text) of ``build()``, once per ``Definitions`` object and kind."""
    key = (id(defs), kind)
    with _lock:
        found = _snapshots.get(key)
        if found is not None and found[0] is defs:
            _snapshots.move_to_end(key)
            return found[1], found[2]
    text = build()
    digest = content_hash(text)
    with _lock:
        _snapshots[key] = (defs, digest, text)  # held: its id is not reused meanwhile
        while len(_snapshots) > _KEEP:
            _snapshots.popitem(last=False)
    return digest, text


def record_definitions(store: SqlStore, defs: Definitions, location: str | None = None
                       ) -> bool:
    """Make ``defs``' snapshot the current one of their code location in ``store``
    (``location``, else ``defs.source``, else ``code``): True when that changed the store.
    The snapshot is built only when the location's stamp (``stamp_of``) is not this one.
    Never raises: a snapshot that cannot be built or recorded is logged as a warning."""
    where = location or defs.source or CODE_LOCATION
    from legato.store.catalog import current_head, record_snapshot  # the store is open

    try:
        stamp = stamp_of(defs)
        with _lock:
            seen = _recorded.setdefault(store, {})
            if seen.get(where) == stamp:
                return False
        head = current_head(store, where)
        changed = False
        if head is None or head.stamp != stamp:
            digest, text = snapshot_of(defs)
            changed = record_snapshot(store, where, digest, text, stamp=stamp, head=head)
    except LegatoError as error:  # the store is busy or away: the run will say so itself
        logger.warning("the definitions catalog of %s was not recorded: %s", where, error)
        return False
    except Exception as error:  # a definition the builder does not understand
        logger.warning("the definitions catalog of %s was not recorded: %s: %s", where,
                       type(error).__name__, error)
        return False
    with _lock:
        seen[where] = stamp
    return changed


def record_run_definitions(store: SqlStore, source: str | None, *,
                           given: Definitions | None = None, runs: object = None) -> bool:
    """Record the definitions a run executes against (``runs``: its flow or task; ``given``:
    the definitions of its assets): ``given`` when they were loaded from a module or file;
    else the definitions this process loaded from the run's ``source`` (the module of its
    flow, or of the assets given in a list: the whole project), when they hold what the run
    executes; else ``given`` as they are, under ``source`` (or ``code``). False when there
    is nothing to record."""
    if given is not None and given.source is not None:
        return record_definitions(store, given)
    if source is not None:
        from legato.definitions.loader import loaded_definitions

        loaded = loaded_definitions(source)
        if loaded is not None and _holds(loaded, given, runs):
            return record_definitions(store, loaded, source)
    return record_definitions(store, given, source) if given is not None else False


def _holds(loaded: Definitions, given: Definitions | None, runs: object) -> bool:
    """Whether ``loaded`` holds the very assets of ``given`` and the flow or task ``runs``."""
    if given is not None and any(loaded.assets.get(key) is not asset
                                 for key, asset in given.assets.items()):
        return False
    if runs is None:
        return True
    name = str(getattr(runs, "name", ""))
    return loaded.flows.get(name) is runs or loaded.tasks.get(name) is runs


# -- entries ------------------------------------------------------------------------------


def _where(location: SourceLocation) -> str | None:
    return str(location) if location.file else None


def _asset(asset: AssetDefinition[Any, Any], version: CodeVersion) -> dict[str, Any]:
    return {
        "key": asset.key, "description": asset.description, "owner": asset.owner,
        "group": None, "code_version": version(asset), "inputs": asset.inputs,
        "deps": asset.deps,
        "partitions": asset.partitions.to_json() if asset.partitions is not None else None,
        "partition_mappings": {up: type(m).__name__ for up, m in asset.partition_mappings},
        "policy": _policy(asset.options), "checks": [], "is_async": asset.is_async,
        "location": _where(asset.location)}


def _task(task: TaskDefinition[Any, Any], version: CodeVersion) -> dict[str, Any]:
    return {"name": task.name, "description": task.description,
            "code_version": version(task), "params": _params(task.fn),
            "policy": _policy(task.options), "is_async": task.is_async,
            "location": _where(task.location)}


def _code_version(definition: Step) -> str:
    return definition.code_version


def _code_place(definition: Step, stats: dict[str, str | None]) -> str:
    """Where the source of ``definition``'s code version is, with its file's size and time
    (``stats``: per file); its code version itself when that is given, or not read from a
    file (a callable object, a function without a file)."""
    if definition.options.code_version is not None:
        return definition.options.code_version
    target: Any = definition.fn
    while isinstance(target, functools.partial):
        target = target.func
    code = getattr(inspect.unwrap(target), "__code__", None)  # as inspect.getsource
    if code is None:
        return definition.code_version
    file = code.co_filename
    if file not in stats:
        try:
            stat = os.stat(file)
            stats[file] = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            stats[file] = None
    if stats[file] is None:
        return definition.code_version
    return f"{file}:{stats[file]}:{code.co_firstlineno}:{code.co_qualname}"


def _policy(options: StepOptions) -> dict[str, Any]:
    retry, cache, fallback = options.retry, options.cache, options.fallback
    return {
        "retry": {"retries": retry.retries, "backoff": retry.backoff, "base": retry.base,
                  "max_delay": retry.max_delay, "jitter": retry.jitter},
        "timeout": options.timeout,
        "cache": (None if cache is None else {"by": "inputs" if cache.key is None else "key",
                                              "expires_after": cache.expires_after}),
        "fallback": (None if fallback is None
                     else "last_good" if isinstance(fallback, LastGood) else "function"),
        "io": options.io, "tags": options.tags}


def _params(fn: Callable[..., Any]) -> list[dict[str, Any]]:
    """The parameters of a flow's or task's function (``ctx`` included: it is one)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return []
    found = []
    for param in parameters:
        given = param.default is not param.empty
        default, shown = _json_or_repr(param.default) if given else (None, None)
        found.append({"name": param.name, "kind": param.kind.name.lower(),
                      "annotation": _annotation(param.annotation), "has_default": given,
                      "default": default, "default_repr": shown})
    return found


def _annotation(annotation: Any) -> str | None:
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    return _ADDRESS.sub("", inspect.formatannotation(annotation))


def _json_or_repr(value: Any) -> tuple[Any, str | None]:
    """(the value as JSON, None) when it is one; else (None, its repr without addresses)."""
    try:
        return json.loads(json.dumps(value, sort_keys=True, allow_nan=False)), None
    except (TypeError, ValueError):
        return None, _ADDRESS.sub("", repr(value))


def _json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A trigger's run parameters as JSON: a value that is not one, as ``{"repr": ...}``."""
    found: dict[str, Any] = {}
    for name, value in sorted(params.items()):
        as_json, shown = _json_or_repr(value)
        found[name] = as_json if shown is None else {"repr": shown}
    return found


def _trigger(item: Any) -> dict[str, Any]:
    kind = item.trigger_key.partition(":")[0]
    found: dict[str, Any] = {
        "key": item.trigger_key, "kind": kind, "name": item.name, "flow": item.flow,
        "selection": item.selection, "description": item.description, "cadence": None,
        "catch_up": None, "catch_up_limit": None, "params": {}, "fills": (),
        "partitions": None, "timeout": None, "upstream": (), "mode": None,
        "paused_by_default": False, "location": _where(item.location)}
    if kind == "schedule":
        spec = item.spec
        found.update(
            cadence=_cadence(spec.cadence), catch_up=spec.catch_up.policy,
            catch_up_limit=spec.catch_up.limit if spec.catch_up.policy == "all" else None,
            params=_json_params(spec.params), fills=item.fills,
            partitions=item.partitions.to_json() if item.partitions is not None else None)
    elif kind == "sensor":
        found.update(cadence=_cadence(item.cadence), timeout=item.timeout)
    else:
        found.update(upstream=item.upstream, mode=item.mode, params=_json_params(item.params))
    return found


def _cadence(cadence: Any) -> dict[str, Any]:
    from legato.scheduler.cron import CronCadence  # loaded already by the trigger's spec

    if isinstance(cadence, CronCadence):
        return {"kind": "cron", "expression": cadence.expression, "tz": cadence.tz,
                "seconds": None, "anchor": None}
    return {"kind": "interval", "expression": None, "tz": "UTC", "seconds": cadence.seconds,
            "anchor": cadence.anchor.isoformat()}
