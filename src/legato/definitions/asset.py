"""``@lg.asset``: a named, persisted data product and the function that computes it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Never, ParamSpec, TypeVar, overload

from legato.definitions.options import CachePolicy, LastGood, Retry
from legato.definitions.source import SourceLocation, code_version_of, docstring_of
from legato.definitions.step_options import STEP_OPTION_NAMES, StepOptions, parse_step_options
from legato.definitions.validation import (
    RESERVED_PARAMS,
    definition_name,
    did_you_mean,
    option_error,
    parameters_of,
    reject_unknown_options,
    require_callable,
    where_defined,
)

if TYPE_CHECKING:  # imported when used: partitions cost nothing to assets without them
    from legato.scheduler.mapping import PartitionMapping
    from legato.scheduler.partitions import Partitions

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetDefinition(Generic[P, R]):
    """An asset: its key, the function computing it, its upstream assets and options.

    Calling it calls the plain function, which keeps assets easy to unit-test.
    """

    key: str
    fn: Callable[P, R]
    inputs: tuple[str, ...]
    """Upstream assets whose values are passed in, in parameter order."""
    deps: tuple[str, ...]
    """Upstream assets that must materialize first, without passing their value."""
    options: StepOptions
    description: str | None
    owner: str | None
    location: SourceLocation
    wants_ctx: bool
    is_async: bool
    partitions: Partitions | None = None
    """The slices it is computed in (``lg.DailyPartitions(...)``, ...); None: one whole."""
    partition_mappings: tuple[tuple[str, PartitionMapping], ...] = ()
    """(upstream asset, mapping) for upstreams whose partitions do not match by default."""

    @property
    def upstream(self) -> tuple[str, ...]:
        return self.inputs + tuple(d for d in self.deps if d not in self.inputs)

    def partition_mapping(self, upstream: str) -> PartitionMapping | None:
        """The mapping given for ``upstream``; None when the default applies."""
        return dict(self.partition_mappings).get(upstream)

    @property
    def code_version(self) -> str:
        return self.options.code_version or code_version_of(self.fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<asset {self.key}>"


_ASSET_OPTIONS = (*(o for o in STEP_OPTION_NAMES if o != "name"), "deps", "owner", "key",
                  "partitions", "partition_mappings")
_INSTEAD = {"name": ": an asset is named by its key, which is the function's name unless "
            "given as key='...' (e.g. @lg.asset(key='daily_sales'))"}


@overload
def asset(fn: Callable[P, R], /) -> AssetDefinition[P, R]: ...


@overload
def asset(
    *,
    key: str | None = None,
    deps: Iterable[str | AssetDefinition[Any, Any]] = (),
    retries: Retry | int | None = None,
    timeout: float | str | None = None,
    fallback: LastGood | Callable[..., Any] | None = None,
    cache: CachePolicy | None = None,
    tags: Iterable[str] | None = None,
    description: str | None = None,
    owner: str | None = None,
    code_version: str | None = None,
    io: str = "auto",
    executor: str | None = None,
    partitions: Partitions | None = None,
    partition_mappings: Mapping[str, PartitionMapping] | None = None,
    **unknown: Never,
) -> Callable[[Callable[P, R]], AssetDefinition[P, R]]: ...


def asset(
    fn: Callable[P, R] | None = None,
    /,
    *,
    key: str | None = None,
    deps: Iterable[str | AssetDefinition[Any, Any]] = (),
    retries: Retry | int | None = None,
    timeout: float | str | None = None,
    fallback: LastGood | Callable[..., Any] | None = None,
    cache: CachePolicy | None = None,
    tags: Iterable[str] | None = None,
    description: str | None = None,
    owner: str | None = None,
    code_version: str | None = None,
    io: str = "auto",
    executor: str | None = None,
    partitions: Partitions | None = None,
    partition_mappings: Mapping[str, PartitionMapping] | None = None,
    **unknown: Never,
) -> AssetDefinition[P, R] | Callable[[Callable[P, R]], AssetDefinition[P, R]]:
    """Define an asset. Parameters named after other assets make them upstream.

    ``partitions=lg.DailyPartitions(start="2026-01-01")`` computes it one partition at a
    time; ``partition_mappings={"events": lg.AllPartitionsMapping()}`` says which
    partitions of an upstream one partition uses, when the default does not fit.
    """
    reject_unknown_options("asset", unknown, _ASSET_OPTIONS, _INSTEAD)

    def decorate(f: Callable[P, R]) -> AssetDefinition[P, R]:
        f = require_callable("asset", f)
        where = where_defined(f)
        asset_key = definition_name("asset", key, f, where)
        try:
            options = parse_step_options(
                retries=retries,
                timeout=timeout,
                fallback=fallback,
                cache=cache,
                tags=tags,
                io=io,
                code_version=code_version,
                executor=executor,
                allow_last_good=True,
            )
            dep_keys = _dep_keys(deps)
        except ValueError as error:
            raise option_error("asset", asset_key, where, error) from None
        inputs: list[str] = []
        wants_ctx = False
        for param in parameters_of("asset", asset_key, f, where).values():
            if param.name in RESERVED_PARAMS:
                wants_ctx = True
            elif param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise option_error(
                    "asset",
                    asset_key,
                    where,
                    ValueError(f"*{param.name} is not allowed: name each upstream asset"),
                )
            else:
                inputs.append(param.name)
        upstream = (*inputs, *dep_keys)
        try:
            _check_partitions(partitions)
            mappings = _mappings(partition_mappings, upstream)
        except ValueError as error:
            raise option_error("asset", asset_key, where, error) from None
        return AssetDefinition(
            key=asset_key,
            fn=f,
            inputs=tuple(inputs),
            deps=dep_keys,
            options=options,
            description=description or docstring_of(f),
            owner=owner,
            location=where,
            wants_ctx=wants_ctx,
            is_async=inspect.iscoroutinefunction(f),
            partitions=partitions,
            partition_mappings=mappings,
        )

    if fn is not None:
        return decorate(fn)
    return decorate


def _dep_keys(deps: Iterable[str | AssetDefinition[Any, Any]]) -> tuple[str, ...]:
    if isinstance(deps, str | AssetDefinition):
        name = deps if isinstance(deps, str) else deps.key
        raise ValueError(f"deps must be a list, not one asset; write deps=[{name!r}]")
    keys: list[str] = []
    for dep in deps:
        if isinstance(dep, AssetDefinition):
            keys.append(dep.key)
        elif isinstance(dep, str) and dep:
            keys.append(dep)
        else:
            raise ValueError(f"deps must be asset names or @lg.asset definitions, not {dep!r}")
    return tuple(dict.fromkeys(keys))


def _check_partitions(partitions: object) -> None:
    if partitions is None:
        return
    from legato.scheduler.partitions import Partitions

    if not isinstance(partitions, Partitions):
        raise ValueError(
            "partitions must be lg.HourlyPartitions, lg.DailyPartitions, lg.WeeklyPartitions, "
            f"lg.MonthlyPartitions or lg.StaticPartitions, not {partitions!r}")


def _mappings(given: object, upstream: tuple[str, ...]) -> tuple[tuple[str, PartitionMapping],
                                                                  ...]:
    if given is None:
        return ()
    from legato.scheduler.mapping import PartitionMapping

    if not isinstance(given, Mapping):
        raise ValueError("partition_mappings must be a dict of upstream asset names to "
                         f"mappings, e.g. {{'events': lg.AllPartitionsMapping()}}, not {given!r}")
    pairs: list[tuple[str, PartitionMapping]] = []
    for name, mapping in given.items():
        key = name.key if isinstance(name, AssetDefinition) else name
        if not isinstance(key, str) or key not in upstream:
            known = ", ".join(repr(u) for u in upstream) or "none"
            raise ValueError(f"partition_mappings names {key!r}, which is not an upstream "
                             f"asset{did_you_mean(str(key), upstream)} (upstream: {known})")
        if not isinstance(mapping, PartitionMapping):
            raise ValueError(f"partition_mappings[{key!r}] must be lg.TimeWindowMapping(), "
                             f"lg.SameKeyMapping() or lg.AllPartitionsMapping(), not {mapping!r}")
        pairs.append((key, mapping))
    return tuple(pairs)
