"""Helpers for CLI tests: invoke ``legato`` in-process (typer's CliRunner) or as the real
console script in a subprocess, in the isolated ``project`` folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner, Result

from legato.cli.main import app

if TYPE_CHECKING:
    from legato.store.records import RunRecord

PIPELINES = '''
import legato as lg


@lg.asset
def raw():
    return [1, 2, 3]


@lg.asset
def doubled(raw, ctx):
    factor = ctx.params.get("factor", 2)
    print(f"doubling with {factor!r}")
    return [x * factor for x in raw]


@lg.asset
def total(doubled):
    return sum(doubled)


@lg.asset
def other():
    return "independent"


@lg.task
def add(a: int, b: int) -> int:
    print(f"adding {a!r} and {b!r}")
    return a + b


@lg.flow
def adder(a: int, b: int = 1, scale: float = 1.0, loud: bool = False, tag: str = "x",
          extra=None):
    result = add(a, b)
    print(f"scale={scale!r} loud={loud!r} tag={tag!r} extra={extra!r}")
    return result * scale


@lg.task(retries=lg.Retry(1, base=0.01, jitter=False))
def explode(x: int) -> int:
    raise ValueError(f"boom {x}")


@lg.flow
def failing():
    return explode(1)
'''

class Cli:
    """``legato`` invoked in-process with typer's CliRunner, in the current folder."""

    def __init__(self) -> None:
        self._runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return self._runner.invoke(app, list(args), env={"COLUMNS": "200", **(env or {})},
                                   catch_exceptions=False)

    def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        """The parsed output of a command that must succeed (pass ``--json`` in ``args``)."""
        result = self(*args, env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


class Script:
    """The installed ``legato`` console script, run in a subprocess as a user would."""

    def __init__(self) -> None:
        script = Path(sys.executable).with_name("legato")
        self.command = [str(script)] if script.exists() else [sys.executable, "-m",
                                                               "legato.cli.main"]

    @staticmethod
    def env(**extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
        env.update({"COLUMNS": "200", "NO_COLOR": "1"}, **extra)
        return env

    def __call__(self, cwd: Path, *args: str, timeout: float = 60,
                 **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.command, *args], cwd=cwd, env=self.env(**env),
                              capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def cli(project: Path) -> Cli:
    """``cli("run", "adder")``: the result of one ``legato`` invocation."""
    return Cli()


@pytest.fixture
def legato(project: Path) -> Script:
    """``legato(folder, "runs", "--json")``: the console script in a subprocess."""
    return Script()


@pytest.fixture
def pipelines(project: Path) -> Path:
    """``pipelines.py`` in the project: assets raw -> doubled -> total, other; flows
    adder (typed parameters) and failing; tasks add and explode."""
    path = project / "pipelines.py"
    path.write_text(PIPELINES)
    return path


def stored_run(project: Path, run_id: str) -> RunRecord:
    """A run's record as the store keeps it, lease included (its ``--json`` view leaves
    storage internals such as the lease token out)."""
    from legato.store.sql_store import SqlStore

    with SqlStore(f"sqlite:///{project / '.legato' / 'legato.db'}") as store:
        return store.get_run(run_id)
