"""The CLI answers at once because of what it does not import (timed in ``benchmarks/``,
workload ``cli``; never timed here): ``legato --help`` loads no store library, the listings
on an up-to-date SQLite store load neither SQLAlchemy nor pydantic's settings, and no
command on SQLite loads Alembic (unless the store needs migrating) or psycopg."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.conftest import Script

PROGRAM = """\
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "legato"
from legato.cli.main import main
main()
"""

STORE_LIBRARIES = {"sqlalchemy", "alembic", "psycopg", "psycopg_binary"}


def imported(cwd: Path, *args: str) -> set[str]:
    """The top-level packages and the legato modules loaded by ``legato ARGS``."""
    out = cwd / "modules.json"
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(out), *args], cwd=cwd,
                          env=Script.env(), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    modules: list[str] = json.loads(out.read_text())
    out.unlink()
    return {m for m in modules if m.startswith("legato.")} | {m.split(".")[0] for m in modules}


def test_help_loads_no_store_library_and_no_engine(project: Path) -> None:
    for args in (["--help"], ["runs", "--help"], ["run", "--help"]):
        loaded = imported(project, *args)
        heavy = loaded & (STORE_LIBRARIES | {"pydantic_settings", "legato.engine.runner",
                                              "legato.store.sql_store", "legato.settings"})
        assert heavy == set(), f"legato {' '.join(args)} loads {sorted(heavy)}"


@pytest.mark.usefixtures("pipelines")
def test_listings_read_sqlite_with_the_plain_driver(project: Path, legato: Script) -> None:
    done = legato(project, "materialize", "pipelines.py", "*total")
    assert done.returncode == 0, done.stdout + done.stderr
    for args in (["runs"], ["runs", "--json", "--status", "succeeded"], ["show", "last"],
                 ["logs", "last"], ["assets"]):
        loaded = imported(project, *args)
        heavy = loaded & (STORE_LIBRARIES | {"pydantic_settings", "legato.store.sql_store"})
        assert heavy == set(), f"legato {' '.join(args)} loads {sorted(heavy)}"


@pytest.mark.usefixtures("pipelines")
def test_a_run_on_sqlite_loads_neither_alembic_nor_psycopg(project: Path) -> None:
    first = imported(project, "run", "pipelines.py", "adder", "--param", "a=1")
    assert "alembic" in first  # the new store was created by its migrations
    again = imported(project, "run", "pipelines.py", "adder", "--param", "a=1")
    assert again & {"alembic", "psycopg", "psycopg_binary"} == set()


def test_a_store_that_needs_creating_is_still_created(project: Path) -> None:
    loaded = imported(project, "runs")  # no store yet: SqlStore creates it
    assert {"sqlalchemy", "alembic"} <= loaded
    assert (project / ".legato" / "legato.db").is_file()
    assert not imported(project, "runs") & STORE_LIBRARIES
