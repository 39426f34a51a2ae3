"""Find an executor by name or import path, and make it with its own settings.

Three places name an executor, looked up in this order:

- the built-in ones: ``inline``, ``threads``, ``processes``;
- an installed package's entry point in the group ``legato.executors``
  (``dask = "legato_dask:DaskExecutor"``), under the entry point's name;
- an import path, ``package.module:Factory``.

A factory is called as ``Factory(max_parallel)``, or ``Factory(max_parallel,
settings=...)`` when it declares a ``settings`` class: a pydantic model (or any class whose
keyword arguments are the settings) that validates the executor's own table,
``[tool.legato.executors.<name>]`` in pyproject.toml or ``LEGATO_EXECUTORS__<NAME>__<KEY>``
in the environment. The core's ``Settings`` carries those tables without knowing them.

Built-in names are answered without reading the installed packages' metadata, so the
default executors cost nothing more to find.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from legato.errors import SettingsError
from legato.executors.base import Executor

GROUP = "legato.executors"
BUILTIN = {
    "inline": "legato.executors.threads:InlineExecutor",
    "threads": "legato.executors.threads:ThreadsExecutor",
    "processes": "legato.executors.processes:ProcessesExecutor",
}

Factory = Callable[..., Executor]


def _installed() -> dict[str, EntryPoint]:
    return {point.name: point for point in entry_points(group=GROUP)}


def executor_names() -> list[str]:
    """Every executor that can be named: the built-in ones, then the installed ones."""
    return [*BUILTIN, *sorted(set(_installed()) - set(BUILTIN))]


def is_import_path(name: str) -> bool:
    return ":" in name


def unknown_name_error(name: str, names: list[str]) -> str:
    """``unknown executor 'thread' (did you mean 'threads'?); known: ...``."""
    close = difflib.get_close_matches(name, names, n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return (f"unknown executor {name!r}{guess}; known: {', '.join(names)}, or an import "
            "path such as 'package.module:Factory'")


def check_name(name: str) -> None:
    """Raise ValueError for a name that is neither known nor an import path (at definition
    time: an import path is loaded when the run starts)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"executor must be a non-empty string, not {name!r}")
    if name in BUILTIN or is_import_path(name):
        return
    names = executor_names()
    if name not in names:
        raise ValueError(unknown_name_error(name, names))


def _load(path: str, *, what: str) -> Any:
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name.strip())
    except Exception as error:
        raise SettingsError(
            f"cannot load executor {what}: importing {module_name!r} failed: "
            f"{type(error).__name__}: {error}",
            hint="give an importable module, as in 'package.module:Factory'") from None
    for part in attribute.strip().split("."):
        if not part:
            raise SettingsError(f"cannot load executor {what}: no factory named after ':'",
                                hint="write it as 'package.module:Factory'")
        try:
            target = getattr(target, part)
        except AttributeError:
            raise SettingsError(
                f"cannot load executor {what}: module {module_name!r} has no {attribute!r}",
                hint="name a class or function of that module after ':'") from None
    if not callable(target):
        raise SettingsError(f"cannot load executor {what}: {path!r} is not callable",
                            hint="name a class or function that makes the executor")
    return target


def find_factory(name: str) -> Factory:
    """The factory of an executor named by a built-in name, an entry point or an import
    path; a ``SettingsError`` naming what exists otherwise."""
    if name in BUILTIN:
        return _load(BUILTIN[name], what=repr(name))  # type: ignore[no-any-return]
    if is_import_path(name):
        return _load(name, what=repr(name))  # type: ignore[no-any-return]
    installed = _installed()
    point = installed.get(name)
    if point is None:
        raise SettingsError(unknown_name_error(name, executor_names()),
                            hint="set executor (LEGATO_EXECUTOR) or a step's executor= to "
                            "one of these, or install the package that provides it")
    return _load(point.value, what=f"{name!r} (entry point of {GROUP})")  # type: ignore[no-any-return]


def settings_key(name: str) -> str:
    """The key of an executor's settings table: its name, or for an import path the
    factory's name in lower case (``pkg.mod:DaskExecutor`` → ``daskexecutor``)."""
    if is_import_path(name):
        return name.rpartition(":")[2].rpartition(".")[2].lower()
    return name


def make_executor(name: str, max_parallel: int,
                  tables: Mapping[str, Mapping[str, Any]] | None = None) -> Executor:
    """Make the executor ``name``, validating its settings table from ``tables``
    (``Settings.executors``) with the factory's own ``settings`` class."""
    if name == "threads" and not (tables or {}).get(name):  # the default: no lookup
        from legato.executors.threads import ThreadsExecutor

        return ThreadsExecutor(max_parallel)
    factory = find_factory(name)
    key = settings_key(name)
    table = dict((tables or {}).get(key) or {})
    settings_class = getattr(factory, "settings", None)
    where = f"[tool.legato.executors.{key}] / LEGATO_EXECUTORS__{key.upper()}__*"
    if settings_class is None:
        if table:
            raise SettingsError(f"executor {name!r} takes no settings, but {where} sets "
                                f"{', '.join(sorted(table))}",
                                hint="remove that table or those variables")
        return factory(max_parallel)
    try:
        settings = settings_class(**table)
    except Exception as error:
        raise SettingsError(f"bad settings for executor {name!r} ({where}): {error}",
                            hint="fix the entries named above") from None
    return factory(max_parallel, settings=settings)
