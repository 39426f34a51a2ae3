"""``legato materialize``: selections, parameters, failures downstream, exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.cli.conftest import Cli

BROKEN = '''
import legato as lg


@lg.asset
def source():
    return 1


@lg.asset
def transform(source):
    raise ValueError("corrupt input")


@lg.asset
def report(transform):
    return transform


@lg.asset
def side(source):
    return source + 1
'''


def _steps(cli: Cli) -> dict[str, str]:
    shown = cli.json("show", "last", "--json")
    return {step["step_key"]: step["status"] for step in shown["steps"]}


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ([], {"raw", "doubled", "total", "other"}),
        (["*"], {"raw", "doubled", "total", "other"}),
        (["*total"], {"raw", "doubled", "total"}),
        (["raw*"], {"raw", "doubled", "total"}),
        (["other", "*doubled"], {"other", "raw", "doubled"}),
    ],
)
def test_selection_syntax(cli: Cli, pipelines: Path, selection: list[str],
                          expected: set[str]) -> None:
    result = cli("materialize", "pipelines.py", *selection)
    assert result.exit_code == 0, result.output
    steps = _steps(cli)
    assert set(steps) == expected
    assert set(steps.values()) == {"succeeded"}


def test_a_single_asset_uses_the_latest_materialization_upstream(cli: Cli,
                                                                 pipelines: Path) -> None:
    missing = cli("materialize", "pipelines.py", "total")
    assert missing.exit_code == 2
    assert "asset 'total' needs 'doubled', which has never been materialized" in missing.stderr
    assert "'*total'" in missing.stderr
    assert cli("materialize", "pipelines.py", "*total").exit_code == 0
    assert cli("materialize", "pipelines.py", "total").exit_code == 0
    assert _steps(cli) == {"total": "succeeded"}


def test_an_unknown_asset_in_the_selection(cli: Cli, pipelines: Path) -> None:
    result = cli("materialize", "pipelines.py", "totl")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no asset named 'totl'; did you mean 'total'?")
    assert cli.json("runs", "--json") == []


def test_params_reach_steps_as_ctx_params(cli: Cli, pipelines: Path) -> None:
    result = cli("materialize", "pipelines.py", "*doubled", "--param", "factor=3")
    assert result.exit_code == 0, result.output
    shown = cli.json("show", "last", "--json")
    assert shown["run"]["params"] == {"factor": 3}
    logs = cli.json("logs", "last", "doubled", "--json")["lines"]
    assert [line["message"] for line in logs] == ["doubling with 3"]


def test_a_failed_asset_skips_downstream_and_exits_1(cli: Cli, project: Path) -> None:
    (project / "broken.py").write_text(BROKEN)
    result = cli("materialize", "broken.py")
    assert result.exit_code == 1, result.output
    assert _steps(cli) == {"source": "succeeded", "transform": "failed",
                           "report": "skipped", "side": "succeeded"}
    # one plain line per finished step, with the error or the reason
    lines = result.stdout.splitlines()
    assert any(line.startswith("failed") and "transform" in line
               and "ValueError: corrupt input" in line for line in lines)
    assert any(line.startswith("skipped") and "report" in line
               and "upstream 'transform' failed" in line for line in lines)
    assert "failed" in cli.json("runs", "--json")[0]["status"]


def test_module_and_file_together_is_a_usage_error(cli: Cli, pipelines: Path) -> None:
    result = cli("materialize", "pipelines.py", "-m", "pipelines")
    assert result.exit_code == 2
    assert "both a file (pipelines.py) and a module (pipelines) were given" in result.stderr


def test_a_star_expanded_by_the_shell_is_explained(cli: Cli, project: Path,
                                                   pipelines: Path) -> None:
    (project / "README.md").write_text("")
    result = cli("materialize", "pipelines.py", "README.md", "pipelines.py")  # what * became
    assert result.exit_code == 2
    assert "'README.md' is a file here, not an asset: did the shell expand a '*'?" in (
        result.stderr)
    assert "hint: quote selections with a star" in result.stderr
