"""Checks shared by the decorators: option names, callables, names, did-you-mean."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from legato.definitions.source import SourceLocation, caller_location
from legato.errors import DefinitionError, Problem

RESERVED_PARAMS = frozenset({"ctx"})


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def reject_unknown_options(
    decorator: str, unknown: Mapping[str, object], known: Iterable[str]
) -> None:
    if not unknown:
        return
    where = caller_location(3)
    problems = [
        Problem(
            f"@lg.{decorator} got an unknown option '{name}'{did_you_mean(name, known)}",
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
    if not name or not all(c.isalnum() or c in "_-." for c in name):
        raise DefinitionError(
            [
                Problem(
                    f"{kind} name {name!r} is not valid: use letters, digits, '_', '-' or '.'",
                    where.file,
                    where.line,
                )
            ]
        )
    return name


def option_error(kind: str, name: str, where: SourceLocation, error: Exception) -> DefinitionError:
    return DefinitionError([Problem(f"{kind} '{name}': {error}", where.file, where.line)])
