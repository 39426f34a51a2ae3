"""Where a command finds the project's definitions, the same rule for every command:

1. a first positional argument ending in ``.py`` is the definitions file;
2. else ``-m/--module pkg.mod``;
3. else the ``definitions`` setting (``[tool.legato] definitions`` or
   ``LEGATO_DEFINITIONS``), a file relative to the project root or a module;
4. else an error that says how to name them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from legato.cli.errors import CommandLineError
from legato.errors import DefinitionError

if TYPE_CHECKING:
    from legato.definitions.definitions import Definitions
    from legato.quick_settings import StoreSettings

HOW_TO_NAME = (
    "name a file (legato {command} pipelines.py ...), a module (-m pkg.pipelines), or set "
    "definitions = \"pipelines.py\" under [tool.legato] in pyproject.toml "
    "(or LEGATO_DEFINITIONS)"
)


def split_file(first: str | None, rest: Sequence[str] | None = ()) -> tuple[str | None,
                                                                          list[str]]:
    """(the definitions file, the other positional arguments): ``first`` is the file when
    it ends in ``.py``, else the first of the other arguments."""
    items = [first] if first is not None else []
    items.extend(rest or ())
    if items and items[0].endswith(".py"):
        return items[0], items[1:]
    return None, items


def definitions_target(file: str | None, module: str | None,
                       settings: StoreSettings) -> str | None:
    """The file or module to load, by the rule above; None when nothing names one."""
    if file is not None and module is not None:
        raise CommandLineError(f"both a file ({file}) and a module ({module}) were given",
                               hint="name the definitions once: a file or -m MODULE")
    if file is not None:
        return file
    if module is not None:
        return module
    configured = settings.definitions
    if configured is None:
        return None
    if configured.endswith(".py") or "/" in configured:
        path = Path(configured)
        return str(path if path.is_absolute() else settings.root / path)
    return configured


def load_project(file: str | None, module: str | None, settings: StoreSettings,
                 command: str) -> Definitions:
    """The project's definitions, or a ``DefinitionError`` that says how to name them."""
    target = definitions_target(file, module, settings)
    if target is None:
        raise DefinitionError("no definitions to load", hint=HOW_TO_NAME.format(command=command))
    from legato.definitions.loader import load_definitions

    return load_definitions(target)


def definitions_argument(file: str | None, module: str | None) -> str | None:
    """How this command line named the definitions, to repeat in a hint's command
    (``pipelines.py``, ``-m pkg.mod``); None when they came from the settings."""
    import shlex

    if file is not None:
        return shlex.quote(file)
    return f"-m {shlex.quote(module)}" if module is not None else None


@contextlib.contextmanager
def pasteable_hints(file: str | None, module: str | None) -> Iterator[None]:
    """Hints that give a command (a missing upstream's ``legato backfill``) name the
    definitions as this command line did, so that they work when pasted."""
    from legato.errors import MissingUpstreamError

    try:
        yield
    except MissingUpstreamError as error:
        raise error.with_definitions(definitions_argument(file, module)) from None
