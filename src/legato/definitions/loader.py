"""Load a project's definitions from a module (``pkg.pipelines``) or a file (``x.py``)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import sysconfig
import traceback
from pathlib import Path
from types import ModuleType

from legato.definitions.definitions import Definitions
from legato.errors import DefinitionError, Problem

_loaded: dict[str, tuple[object, Definitions]] = {}
"""What ``load_definitions`` loaded last from each source, with its module: the
definitions a run of this process records in the catalog (``legato.definitions.recording``)."""


def load_definitions(target: str, *, fresh: bool = False) -> Definitions:
    """``target`` is a file path ending in ``.py`` or a dotted module name.

    The module's ``defs`` (a ``Definitions``) is used when present; otherwise every asset,
    flow and task in its globals is gathered. A file is imported once per process unless
    ``fresh`` (it changed since: a long-lived worker loads it again). A file that is
    already imported under its own name (``import etl`` in a test, then ``lg.load("etl.py")``)
    is that module, not a second copy, so that what the test patched in it holds.
    """
    if target.endswith(".py") or "/" in target or Path(target).is_file():
        path = Path(target).resolve()
        if not path.is_file():
            raise DefinitionError(f"no such file: {target}", hint="check the path")
        module = _import_file(path, fresh=fresh)
        source = f"file:{path}"
    else:
        module = _import_module(target)
        source = f"module:{target}"
    defs = _definitions_in(module, source)
    _loaded[source] = (module, defs)
    return defs


def loaded_definitions(source: str) -> Definitions | None:
    """The definitions of ``source`` (``module:pkg.mod`` or ``file:/path.py``) as this process
    has them, importing nothing: those ``load_definitions`` loaded last, else, for a module
    the process imported itself, gathered from it as ``load_definitions`` would. None when
    the module is not imported, still being imported, or is a script (``__main__`` may not
    have finished running), or when its definitions are not valid."""
    found = _loaded.get(source)
    if found is not None and sys.modules.get(getattr(found[0], "__name__", "")) is found[0]:
        return found[1]  # not imported again since
    kind, _, name = source.partition(":")
    module = sys.modules.get(name) if kind == "module" else None
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    try:
        defs = _definitions_in(module, source)
    except DefinitionError:
        return None
    _loaded[source] = (module, defs)
    return defs


def _definitions_in(module: object, source: str) -> Definitions:
    """The module's ``defs`` (a ``Definitions``), else every definition in its globals."""
    found = getattr(module, "defs", None)
    if isinstance(found, Definitions):
        found.source = found.source or source
        return found
    return Definitions.collect(vars(module).values(), source=source)


def load_from_source(source: str, *, fresh: bool = False) -> Definitions:
    """Load again from a recorded ``Definitions.source``."""
    kind, _, target = source.partition(":")
    return load_definitions(target if kind in ("module", "file") else source, fresh=fresh)


def _import_module(name: str) -> object:
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    importlib.invalidate_caches()  # the module may have been written since the last import
    try:
        return importlib.import_module(name)
    except DefinitionError:
        raise  # already names the file and line of the bad definition
    except ModuleNotFoundError as error:
        if error.name and (name == error.name or name.startswith(error.name + ".")):
            raise DefinitionError(
                f"no module named '{name}'",
                hint="run from the project's folder, or pass a file path instead",
            ) from None
        raise _import_failed(name, error) from error
    except (Exception, SystemExit) as error:
        raise _import_failed(name, error) from error


def _import_file(path: Path, *, fresh: bool = False) -> object:
    name = "legato_user_" + "".join(c if c.isalnum() else "_" for c in str(path.with_suffix("")))
    if name in sys.modules and not fresh:
        return sys.modules[name]
    imported = None if fresh else _imported_as(path)
    if imported is not None:
        return imported
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:  # as `python file.py` would: siblings import later too
        sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        del sys.modules[name]
        if isinstance(error, DefinitionError) or not isinstance(error, Exception | SystemExit):
            raise  # a DefinitionError already names its file and line; Ctrl-C stays Ctrl-C
        raise _import_failed(str(path), error) from error
    return module


def _imported_as(path: Path) -> ModuleType | None:
    """The module already imported from ``path`` under a name of its own, if any. Not
    ``__main__``: a script that loads itself may not have finished running."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if (not isinstance(file, str) or os.path.basename(file) != path.name
                or name == "__main__" or name.startswith("legato_user_")):
            continue
        try:
            if Path(file).resolve() == path:
                return module
        except OSError:
            continue
    return None


def _not_user_code() -> tuple[str, ...]:
    """Path prefixes of legato, the standard library and installed packages."""
    paths = sysconfig.get_paths()
    found = {str(Path(__file__).resolve().parent.parent)}
    for kind in ("stdlib", "platstdlib", "purelib", "platlib"):
        if kind in paths:
            found |= {paths[kind], str(Path(paths[kind]).resolve())}
    return ("<frozen ", *(folder.rstrip(os.sep) + os.sep for folder in found))


def _import_failed(what: str, error: BaseException) -> DefinitionError:
    """Name the innermost line of the user's own code, not the library that raised."""
    frames = traceback.extract_tb(error.__traceback__)
    skip = _not_user_code()
    user = [f for f in frames if not f.filename.startswith(skip)]
    last = user[-1] if user else (frames[-1] if frames else None)
    if isinstance(error, SyntaxError):
        return DefinitionError(
            [Problem(f"cannot import {what}: SyntaxError: {error.msg}", error.filename,
                     error.lineno)],
            hint="fix the syntax error and run again",
        )
    return DefinitionError(
        [
            Problem(
                f"cannot import {what}: {type(error).__name__}: {error}",
                last.filename if last else None,
                last.lineno if last else None,
            )
        ],
        hint="fix the error in your module (run with --debug for the full traceback)",
    )
