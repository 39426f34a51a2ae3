"""Tables written to a pipe (``legato schedules | less``, a CI log) keep their natural
width: rich would squeeze them to 80 columns and wrap every cell without a terminal."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli.conftest import Script

WIDE = '''
import legato as lg


@lg.flow
def a_flow_with_a_rather_long_name_for_a_narrow_terminal(day: str = "x"):
    return day


every_quarter_hour_of_the_day = lg.schedule(
    a_flow_with_a_rather_long_name_for_a_narrow_terminal,
    lg.cron("*/15 * * * *", tz="America/Argentina/Buenos_Aires"),
    name="every_quarter_hour_of_the_day_in_buenos_aires")
'''


def test_a_piped_table_is_not_squeezed_to_80_columns(project: Path, legato: Script) -> None:
    (project / "wide.py").write_text(WIDE)
    env = {k: v for k, v in Script.env().items() if k != "COLUMNS"}
    done = subprocess.run([*legato.command, "schedules", "wide.py", "-n", "1"], cwd=project,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    header, row = done.stdout.splitlines()[:2]
    assert header.split() == ["name", "runs", "when", "catch-up", "next", "(local)", "next",
                              "(UTC)", "state", "last", "tick"]
    assert row.startswith("every_quarter_hour_of_the_day_in_buenos_aires  flow "
                          "a_flow_with_a_rather_long_name_for_a_narrow_terminal  */15 * * * *")
    assert 120 < len(row) < 300  # one line per row, not padded to some wide width
    narrow = subprocess.run([*legato.command, "schedules", "wide.py", "-n", "1"],
                            cwd=project, env={**env, "COLUMNS": "80"}, capture_output=True,
                            text=True, timeout=60, check=False)
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80  # COLUMNS rules
