"""A missing upstream partition: ``materialize`` and ``backfill`` refuse before any run,
name what is missing, and hint a command that works when pasted (with the definitions
file as the command line named it, and the upstream's own upstream when it has one)
(issue 11, item 9)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.cli.conftest import Cli

ETL = '''
import legato as lg

DAILY = lg.DailyPartitions(start="2026-10-01")


@lg.asset(partitions=DAILY)
def landing_orders(ctx):
    return [ctx.partition_key]


@lg.asset(partitions=DAILY)
def clean_orders(landing_orders):
    return [o.upper() for o in landing_orders]


@lg.asset(partitions=DAILY)
def report(clean_orders):
    return len(clean_orders)
'''


def _hinted(stderr: str) -> list[str]:
    """The command of the hint, as the shell would split it."""
    found = re.search(r"hint: materialize them first: (legato [^\n]*?)(, then .*)?$", stderr,
                      re.MULTILINE)
    assert found is not None, stderr
    return shlex.split(found.group(1))[1:]  # without "legato"


def test_the_hint_of_materialize_works_when_pasted(cli: Cli, project: Path) -> None:
    (project / "etl.py").write_text(ETL)
    refused = cli("materialize", "etl.py", "report", "--partition", "2026-10-02")
    assert refused.exit_code == 2
    assert "needs partition(s) 2026-10-02 of 'clean_orders'" in refused.stderr
    hinted = _hinted(refused.stderr)
    assert hinted == ["backfill", "etl.py", "*clean_orders", "--from", "2026-10-02", "--to",
                      "2026-10-02"]
    pasted = cli(*hinted)
    assert pasted.exit_code == 0, pasted.output
    again = cli("materialize", "etl.py", "report", "--partition", "2026-10-02")
    assert again.exit_code == 0, again.output


def test_a_backfill_checks_upstream_partitions_before_starting(cli: Cli,
                                                               project: Path) -> None:
    (project / "etl.py").write_text(ETL)
    assert cli("materialize", "etl.py", "landing_orders", "clean_orders", "--partition",
               "2026-10-02").exit_code == 0
    refused = cli("backfill", "etl.py", "report", "--from", "2026-10-01", "--to",
                  "2026-10-03")
    assert refused.exit_code == 2, refused.output
    assert ("the backfill needs partition(s) 2026-10-01, 2026-10-03 of 'clean_orders', "
            "which have never been materialized; nothing was started") in refused.stderr
    assert "then this backfill again" in refused.stderr
    assert cli.json("backfills", "--json") == []  # nothing was started
    hinted = _hinted(refused.stderr)
    assert hinted == ["backfill", "etl.py", "*clean_orders", "--from", "2026-10-01", "--to",
                      "2026-10-03"]
    assert cli(*hinted).exit_code == 0
    done = cli("backfill", "etl.py", "report", "--from", "2026-10-01", "--to", "2026-10-03")
    assert done.exit_code == 0, done.output
    assert "completed: 3 succeeded, 0 failed of 3" in done.output


def test_a_hint_names_a_module_as_the_command_line_did(
        cli: Cli, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "etl_mod.py").write_text(ETL)
    monkeypatch.syspath_prepend(str(project))
    refused = cli("materialize", "-m", "etl_mod", "clean_orders", "--partition",
                  "2026-10-05")
    assert refused.exit_code == 2
    assert _hinted(refused.stderr) == ["backfill", "-m", "etl_mod", "landing_orders",
                                       "--from", "2026-10-05", "--to", "2026-10-05"]
