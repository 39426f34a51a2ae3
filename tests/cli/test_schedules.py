"""``legato schedules``: next fire times from the definitions alone (no store)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.cli.conftest import Cli

SCHEDULED = '''
import legato as lg


@lg.asset(partitions=lg.DailyPartitions(start="2026-01-01", tz="Europe/Berlin"))
def events():
    return 1


@lg.asset
def model(events):
    return 2


@lg.flow(schedule=lg.cron("30 2 * * *", tz="Europe/Berlin", params={"day": "today"}))
def nightly(day: str):
    return day


models = lg.schedule("*model", lg.cron("0 3 * * *", tz="Europe/Berlin", catch_up="all",
                                       catch_up_limit=7), name="nightly_model")
quarterly = lg.schedule(nightly, lg.every("15m", catch_up="none", params={"day": "now"}),
                        name="quarterly")
'''


def write(project: Path, text: str = SCHEDULED) -> str:
    (project / "scheduled.py").write_text(text)
    return "scheduled.py"


def test_json_lists_each_schedule_with_its_next_fire_times(cli: Cli, project: Path) -> None:
    rows = cli.json("schedules", write(project), "--json", "--next", "2",
                    "--after", "2026-03-28T12:00:00Z")
    assert [r["name"] for r in rows] == ["nightly", "nightly_model", "quarterly"]
    nightly, model, quarterly = rows
    assert nightly["flow"] == "nightly" and nightly["selection"] == []
    assert nightly["cron"] == "30 2 * * *" and nightly["timezone"] == "Europe/Berlin"
    assert nightly["params"] == {"day": "today"}
    assert nightly["catch_up"] == {"policy": "latest", "limit": None}
    assert nightly["next"] == [  # spring forward: 02:30 does not exist, it fires at 03:00
        {"tick_key": "2026-03-29T01:00:00Z", "at": "2026-03-29T01:00:00+00:00",
         "local": "2026-03-29T03:00:00+02:00"},
        {"tick_key": "2026-03-30T00:30:00Z", "at": "2026-03-30T00:30:00+00:00",
         "local": "2026-03-30T02:30:00+02:00"}]
    assert model["flow"] is None and model["selection"] == ["*model"]
    assert model["catch_up"] == {"policy": "all", "limit": 7}
    assert model["partitions"] == {"kind": "daily", "start": "2026-01-01", "end": None,
                                   "tz": "Europe/Berlin"}
    assert quarterly["interval_seconds"] == 900 and quarterly["cron"] is None
    assert [n["tick_key"] for n in quarterly["next"]] == ["2026-03-28T12:15:00Z",
                                                          "2026-03-28T12:30:00Z"]
    assert not (project / ".legato").exists()  # no store was opened


def test_table_shows_local_and_utc_times(cli: Cli, project: Path) -> None:
    result = cli("schedules", write(project), "--after", "2026-10-24T12:00:00Z", "-n", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "runs", "when", "catch-up", "next", "(local)",
                                "next", "(UTC)", "state", "last", "tick"]
    text = result.stdout
    assert "2026-10-25 02:30 CEST  2026-10-25 00:30" in text  # the first 02:30 of fall back
    assert "2026-10-26 02:30 CET   2026-10-26 01:30" in text
    assert "all ≤7" in text and "every 15m" in text


def test_next_times_of_a_second_level_interval_show_their_seconds(cli: Cli, project: Path
                                                                 ) -> None:
    """Every 30 s fires at :00 and :30: both show their seconds, so the column lines up
    and says that it is not a minute-level schedule."""
    text = SCHEDULED + ('often = lg.schedule(nightly, lg.every("30s", params={"day": "x"}),'
                        ' name="often")\n')
    result = cli("schedules", write(project, text), "--after", "2026-10-24T12:00:10Z",
                 "-n", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("often"))
    assert "2026-10-24 12:00:30" in lines[first]
    utc = [" ".join(line.split()[-2:]) for line in lines[first + 1:first + 3]]
    assert utc == ["2026-10-24 12:01:00", "2026-10-24 12:01:30"]  # not 12:01


def test_no_schedules(cli: Cli, project: Path) -> None:
    result = cli("schedules", write(project, "import legato as lg\n"))
    assert result.exit_code == 0
    assert "no schedules defined" in result.stdout
    assert cli.json("schedules", "scheduled.py", "--json") == []


def test_bad_input(cli: Cli, project: Path) -> None:
    write(project)
    bad_after = cli("schedules", "scheduled.py", "--after", "tomorrow")
    assert bad_after.exit_code == 2
    assert "--after 'tomorrow' is not an instant" in bad_after.stderr
    naive = cli("schedules", "scheduled.py", "--after", "2026-01-01T00:00")
    assert naive.exit_code == 2
    no_defs = cli("schedules")
    assert no_defs.exit_code == 2 and "no definitions to load" in no_defs.stderr
    (project / "broken.py").write_text(
        'import legato as lg\n\n@lg.flow(schedule=lg.cron("61 * * * *"))\ndef f():\n    pass\n')
    broken = cli("schedules", "broken.py")
    assert broken.exit_code == 2
    assert "broken.py:3: lg.cron: cron '61 * * * *': the minute field '61' is out of range" in (
        broken.stderr)
    assert cli("schedules", "notes.txt").exit_code == 2
