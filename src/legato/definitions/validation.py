"""Checks shared by the decorators: option names, callables, names, did-you-mean."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from legato.definitions.source import SourceLocation, caller_location, location_of
from legato.errors import DefinitionError, Problem

RESERVED_PARAMS = frozenset({"ctx"})


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def reject_unknown_options(
    decorator: str, unknown: Mapping[str, object], known: Iterable[str],
    instead: Mapping[str, str] | None = None,
) -> None:
    """``instead`` maps an option other decorators take to what this one says instead
    (``@lg.asset(name=...)``: an asset is named by its ``key``)."""
    if not unknown:
        return
    where = caller_location(3)
    known = [option for option in known if option not in unknown]
    problems = [
        Problem(
            f"@lg.{decorator} got an unknown option '{name}'"
            + ((instead or {}).get(name) or did_you_mean(name, known)),
            where.file,
            where.line,
        )
        for name in unknown
    ]
    raise DefinitionError(problems)


def require_callable(decorator: str, fn: object) -> Callable[..., Any]:
    if not callable(fn):
        where = caller_location(3)
        raise DefinitionError(
            [
                Problem(
                    f"@lg.{decorator} must decorate a function, but got {type(fn).__name__} "
                    f"{fn!r}",
                    where.file,
                    where.line,
                )
            ]
        )
    return fn


def require_name(kind: str, name: str, where: SourceLocation) -> str:
    valid = all(c.isalnum() or c in "_-." for c in name)
    if not name or not valid or not (name[0].isalnum() or name[0] == "_"):
        raise DefinitionError(
            [
                Problem(
                    f"{kind} name {name!r} is not valid: use letters, digits, '_', '-' or '.', "
                    "starting with a letter, a digit or '_'",
                    where.file,
                    where.line,
                )
            ]
        )
    return name


def definition_name(
    kind: str, explicit: str | None, fn: Callable[..., Any], where: SourceLocation
) -> str:
    """The explicit name, else the function's own name, checked by ``require_name``."""
    option = "key" if kind == "asset" else "name"
    if explicit is None:
        explicit = getattr(fn, "__name__", None)
        if not isinstance(explicit, str) or explicit == "<lambda>":
            raise DefinitionError(
                [
                    Problem(
                        f"@lg.{kind} cannot tell the name of {fn!r}; give it a name with "
                        f"@lg.{kind}({option}=...)",
                        where.file,
                        where.line,
                    )
                ]
            )
    elif not isinstance(explicit, str):
        raise DefinitionError(
            [Problem(f"{kind} {option} must be a string, not {explicit!r}", where.file,
                     where.line)]
        )
    return require_name(kind, explicit, where)


def where_defined(fn: Callable[..., Any]) -> SourceLocation:
    """The function's own file and line; for callables without code, the caller's line."""
    where = location_of(fn)
    return where if where.file is not None else caller_location()


def parameters_of(
    kind: str, name: str, fn: Callable[..., Any], where: SourceLocation
) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError) as error:
        raise option_error(
            kind, name, where, ValueError(f"cannot read its parameters: {error}")
        ) from error


def option_error(kind: str, name: str, where: SourceLocation, error: Exception) -> DefinitionError:
    return DefinitionError([Problem(f"{kind} '{name}': {error}", where.file, where.line)])
