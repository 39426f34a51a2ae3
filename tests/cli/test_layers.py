"""The CLI goes through the services: no module of ``legato.cli`` imports the store, the
engine, the daemon or the executors, at any level (top, inside a function, or for type
checking only). import-linter holds the same rule (pyproject.toml); this walk says which
line breaks it."""

from __future__ import annotations

import ast
from pathlib import Path

import legato.cli

FORBIDDEN = ("legato.store", "legato.engine", "legato.daemon", "legato.executors")
CLI = Path(legato.cli.__file__).parent


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def reaches(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def test_no_cli_module_imports_the_store_engine_or_daemon() -> None:
    offending = [f"{path.relative_to(CLI.parent)}:{line} imports {module}"
                 for path in sorted(CLI.rglob("*.py"))
                 for line, module in imported_modules(path) if reaches(module)]
    assert offending == [], "the CLI must call legato.services instead:\n" + "\n".join(
        offending)


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import legato.store.reader\nfrom legato import engine\n"
                      "def f():\n    from legato.daemon.worker import Worker\n"
                      "from legato.services.runs import list_runs\n")
    assert [m for _, m in imported_modules(sample) if reaches(m)] == [
        "legato.store.reader", "legato.engine", "legato.daemon.worker",
        "legato.daemon.worker.Worker"]
