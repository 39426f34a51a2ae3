"""``legato scheduler`` (foreground, stopped by SIGTERM) and ``legato schedules`` with the
store's state: pause, resume, last tick, sensors and asset triggers."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.cli.conftest import Cli, Script

AUTOMATED = '''
import legato as lg


@lg.asset
def orders():
    return 1


@lg.asset
def report(orders):
    return orders


@lg.flow(schedule=lg.every("1s"))
def tick(n: int = 0):
    return n


@lg.sensor(interval="1m", flow=tick)
def inbox(ctx):
    return "nothing new"


after_orders = lg.on_materialized(orders, run="report", name="after_orders")
'''


def write(project: Path) -> str:
    (project / "automated.py").write_text(AUTOMATED)
    return "automated.py"


def test_listing_shows_every_kind_and_its_state(cli: Cli, project: Path) -> None:
    rows = cli.json("schedules", write(project), "--json")
    assert [(r["kind"], r["name"]) for r in rows] == [
        ("schedule", "tick"), ("sensor", "inbox"), ("asset_trigger", "after_orders")]
    tick, inbox, after = rows
    assert (tick["paused"], tick["last_tick"]) == (False, None)
    assert inbox["trigger_key"] == "sensor:inbox" and inbox["interval_seconds"] == 60
    assert after["upstream"] == ["orders"] and after["flow"] is None
    assert after["selection"] == ["report"]
    assert not (project / ".legato").exists()  # listing never creates a store


def test_pause_and_resume_by_name_or_key(cli: Cli, project: Path) -> None:
    write(project)
    assert cli.json("schedules", "automated.py", "pause", "inbox", "--json") == {
        "trigger_key": "sensor:inbox", "paused": True}
    rows = {r["name"]: r for r in cli.json("schedules", "automated.py", "--json")}
    assert rows["inbox"]["paused"] and not rows["tick"]["paused"]
    table = cli("schedules", "automated.py").stdout
    assert "paused" in table and "active" in table
    # a key needs no definitions
    resumed = cli("schedules", "resume", "sensor:inbox")
    assert resumed.exit_code == 0, resumed.output
    assert "sensor:inbox resumed" in resumed.stdout
    rows = {r["name"]: r for r in cli.json("schedules", "automated.py", "--json")}
    assert not rows["inbox"]["paused"]


def test_pause_errors_name_the_fix(cli: Cli, project: Path) -> None:
    write(project)
    unknown = cli("schedules", "automated.py", "pause", "inboxx")
    assert unknown.exit_code == 2
    assert "no schedule, sensor or asset trigger named 'inboxx'; did you mean 'inbox'?" in (
        unknown.stderr)
    wrong = cli("schedules", "automated.py", "stop", "inbox")
    assert wrong.exit_code == 2 and "pause|resume NAME" in wrong.stderr


def test_the_scheduler_runs_until_sigterm_and_the_listing_shows_its_ticks(
        legato: Script, cli: Cli, project: Path) -> None:
    write(project)
    process = subprocess.Popen([*legato.command, "scheduler", "automated.py"], cwd=project,
                               env=legato.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        requested = []
        assert process.stdout is not None
        while time.monotonic() < deadline and len(requested) < 2:
            line = process.stdout.readline()
            if "runs requested" in line and line.split()[3] != "0":
                requested.append(line)
        assert len(requested) == 2, requested
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "scheduler stopped" in out
    assert "Traceback" not in err
    rows = {r["name"]: r for r in cli.json("schedules", "automated.py", "--json")}
    assert rows["tick"]["last_tick"]["status"] == "requested"
    assert rows["inbox"]["last_tick"]["detail"] == "nothing new"
