"""Failures are easy to see: ``legato show`` prints the last failed step's traceback
(trimmed; ``--traceback`` for all of it), and ``legato assets`` shows an asset whose latest
step failed or fell back beside its last good materialization."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli
from tests.services.conftest import BREAKABLE

DEEP = BREAKABLE + '''


def dig(n):
    if n == 0:
        raise ValueError("deep down")
    return dig(n - 1)


@lg.task
def deep() -> int:
    return dig(20)


@lg.flow
def digging():
    return deep()
'''


def test_show_prints_the_last_lines_of_the_traceback_and_all_with_a_flag(
        cli: Cli, project: Path) -> None:
    (project / "deep.py").write_text(DEEP)
    assert cli("run", "deep.py", "digging").exit_code == 1
    short = cli("show", "last").stdout
    assert "traceback of deep (its last 12 lines of" in short
    assert "ValueError: deep down" in short and "Traceback (most recent call last)" not in short
    full = cli("show", "last", "--traceback").stdout
    assert "traceback of deep:" in full and "Traceback (most recent call last)" in full
    assert len(full.splitlines()) > len(short.splitlines())


def test_assets_show_a_failure_beside_the_last_good_materialization(cli: Cli,
                                                                    project: Path) -> None:
    (project / "deep.py").write_text(DEEP)
    assert cli("materialize", "deep.py").exit_code == 0
    healthy = cli("assets", "deep.py").stdout
    assert "latest run" not in healthy  # nothing to say when all is well
    assert cli("materialize", "deep.py", env={"BREAK_SOURCE": "1"}).exit_code == 1
    table = cli("assets", "deep.py").stdout
    assert "latest run" in table
    row = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert "failed" in row["source"] and "source is down" in row["source"]
    assert "fallback" in row["report"]
    listed = {a["asset_key"]: a for a in cli.json("assets", "deep.py", "--json")}
    assert listed["source"]["latest_outcome"]["status"] == "failed"
    assert listed["report"]["latest_outcome"]["status"] == "fallback"
    assert listed["report"]["latest_materialization"] is not None
