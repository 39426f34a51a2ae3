"""The ``legato`` entry point: help, version, cheap import, error boundary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from legato import __version__

if TYPE_CHECKING:
    from tests.cli.conftest import Cli, Script


def test_help_lists_every_command(cli: Cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for name in ("init", "run", "materialize", "runs", "show", "logs", "assets"):
        assert name in result.stdout
    bare = cli()
    assert "Usage" in bare.output


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"legato {__version__}\n"


def test_unknown_command_is_a_usage_error(cli: Cli) -> None:
    result = cli("explode")
    assert result.exit_code == 2
    assert "No such command 'explode'" in result.stderr


def test_importing_the_cli_does_not_load_the_store_or_rich_live() -> None:
    code = ("import sys, legato.cli.main; "
            "print(sorted(m for m in ('sqlalchemy', 'pydantic', 'alembic', 'rich.live', "
            "'legato.store.sql_store', 'legato.engine.runner') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_console_script_exit_codes(project: Path, legato: Script) -> None:
    (project / "pipelines.py").write_text(
        "import legato as lg\n\n@lg.task\ndef bad() -> None:\n    raise RuntimeError('no')\n\n"
        "@lg.flow\ndef f():\n    bad()\n")
    assert legato(project, "run", "pipelines.py", "f").returncode == 1
    usage = legato(project, "run", "pipelines.py", "g")
    assert usage.returncode == 2
    assert usage.stderr.startswith("error: no flow named 'g'")
    assert "Traceback" not in usage.stderr
    store = legato(project, "runs", LEGATO_DATABASE_URL="oracle://x/y")
    assert store.returncode == 3
    assert store.stderr.startswith("error: ")
