"""``legato backfill``: start, status, cancel, resume, rerun; bad input exits 2; and
``legato materialize --partition``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.daemon.backfill_kit import assets_module, executions, read_log

if TYPE_CHECKING:
    from tests.cli.conftest import Cli


@pytest.fixture
def kit(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with assets_module(project, monkeypatch):
        yield project / "bf_assets.py"


def test_a_backfill_runs_every_partition_and_reports(cli: Cli, kit: Path,
                                                     project: Path) -> None:
    result = cli("backfill", "bf_assets.py", "days", "--from", "2020-01-01", "--to",
                 "2020-01-20", "--max-concurrent", "2")
    assert result.exit_code == 0, result.output
    assert "20 partitions of days (2020-01-01 to 2020-01-20), 2 at a time" in result.output
    assert "completed: 20 succeeded, 0 failed of 20" in result.output
    assert executions(read_log(project / "log.txt")) == {
        f"2020-01-{d:02d}": 1 for d in range(1, 21)}
    status = cli.json("backfill", "status", "last", "--json")
    assert status["status"] == "completed" and status["succeeded"] == 20
    assert status["max_concurrent"] == 2 and status["cursor"] == "2020-01-20"
    listed = cli.json("backfill", "status", "--json")
    assert [b["backfill_id"] for b in listed] == [status["backfill_id"]]
    shown = cli("backfill", "status")
    assert status["backfill_id"] in shown.output and "20/20" in shown.output
    assets = {a["asset_key"]: a for a in cli.json("assets", "bf_assets.py", "--json")}
    assert assets["days"]["partitions"] == {"definition": "daily from 2020-01-01 (UTC)",
                                            "materialized": 20}
    assert "partitions" not in assets["plain"]
    assert "20 of daily from 2020-01-01 (UTC)" in cli("assets", "bf_assets.py").output


def test_detach_only_creates_the_backfill(cli: Cli, kit: Path, project: Path) -> None:
    result = cli("backfill", "bf_assets.py", "days", "--from", "2020-01-01", "--to",
                 "2020-01-03", "--detach")
    assert result.exit_code == 0, result.output
    assert "detached" in result.output and "legato backfill status" in result.output
    status = cli.json("backfill", "status", "last", "--json")
    assert status["status"] == "running" and status["succeeded"] == 0
    assert status["queued"] == status["running"] == 0  # nothing planned nor run here
    assert not (project / "log.txt").exists() or read_log(project / "log.txt") == []


def test_failed_partitions_exit_1_and_rerun(cli: Cli, kit: Path) -> None:
    failing = {"FAIL_ON": "2020-01-02"}
    result = cli("backfill", "bf_assets.py", "days", "--partitions",
                 "2020-01-01,2020-01-02,2020-01-03", env=failing)
    assert result.exit_code == 1, result.output
    assert "1 partition failed (2020-01-02)" in result.output
    first = cli.json("backfill", "status", "last", "--json")
    assert first["failed_partitions"] == ["2020-01-02"]
    again = cli("backfill", "bf_assets.py", "--rerun-failed", first["backfill_id"],
                env={"FAIL_ON": ""})
    assert again.exit_code == 0, again.output
    assert "1 partition of days (2020-01-02)" in again.output
    ended = cli("backfill", "resume", first["backfill_id"])
    assert ended.exit_code == 2 and "has ended (failed)" in ended.output


def test_cancel(cli: Cli, kit: Path) -> None:
    from legato.daemon.backfill import advance_backfill, plan_backfill, start_backfill
    from legato.definitions.loader import load_definitions
    from legato.settings import load_settings
    from legato.store.sql_store import SqlStore

    defs = load_definitions(str(kit))
    with SqlStore(load_settings().store_url) as store:
        record, _ = start_backfill(store, plan_backfill(defs, ["days"], first="2020-01-01",
                                                        last="2020-03-01"))
        advance_backfill(store, record, defs)
    canceled = cli.json("backfill", "cancel", record.backfill_id[:10], "--json")
    assert canceled == {"backfill_id": record.backfill_id, "status": "canceled",
                        "canceled_runs": 4}
    again = cli("backfill", "cancel", record.backfill_id)
    assert again.exit_code == 0 and "had already ended (canceled)" in again.output


@pytest.mark.parametrize(("args", "words"), [
    (["days", "--from", "2020-02-01", "--to", "2020-01-01"], "in the wrong order"),
    (["days", "--from", "2019-01-01", "--to", "2020-01-01"], "before the first partition"),
    (["dayz", "--from", "2020-01-01"], "did you mean 'days'"),
    (["plain"], "'plain' is not partitioned"),
    (["days", "--partitions", "2999-01-01"], "has not ended yet"),
    (["--rerun-failed", "nope"], "no backfill matches 'nope'"),
    (["status", "nope"], "no backfill matches 'nope'"),
    (["cancel"], "needs the id of a backfill"),
    (["status", "--from", "2020-01-01", "--to", "2020-01-02"],
     "legato backfill status does not take --from, --to: they choose the partitions of a "
     "new backfill"),
    (["cancel", "x", "--partitions", "2020-01-01"], "does not take --partitions"),
    ([], "name the partitioned assets to backfill"),
])
def test_bad_input_exits_2(cli: Cli, kit: Path, args: list[str], words: str) -> None:
    first = [] if args and args[0] in ("status", "cancel") else ["bf_assets.py"]
    result = cli("backfill", *first, *args)
    assert result.exit_code == 2, result.output
    assert words in result.output


def test_more_than_ten_thousand_partitions_need_yes(cli: Cli, project: Path) -> None:
    (project / "hourly.py").write_text(
        "import legato as lg\n\n"
        "@lg.asset(partitions=lg.HourlyPartitions(start='2020-01-01'))\n"
        "def hours(ctx):\n    return 1\n")
    result = cli("backfill", "hourly.py", "hours", "--from", "2020-01-01T00:00", "--to",
                 "2021-12-31T23:00")
    assert result.exit_code == 2
    assert "more than 10,000 partitions" in result.output and "--yes" in result.output
    assert cli.json("backfill", "status", "--json") == []  # nothing was saved


def test_materialize_one_partition(cli: Cli, kit: Path) -> None:
    result = cli("materialize", "bf_assets.py", "days", "--partition", "2020-01-05")
    assert result.exit_code == 0, result.output
    shown = cli.json("show", "last", "--json")
    assert shown["run"]["partition_key"] == "2020-01-05"
    assert "partition  2020-01-05" in cli("show", "last").output
    assert "days [2020-01-05]" in cli("runs").output
    bad = cli("materialize", "bf_assets.py", "days", "--partition", "2019-01-05")
    assert bad.exit_code == 2 and "before the first partition" in bad.output
    missing = cli("materialize", "bf_assets.py", "days")
    assert missing.exit_code == 2 and "--partition" in missing.output


def test_ctrl_c_stops_the_command_and_resume_finishes_the_backfill(
        cli: Cli, kit: Path, project: Path) -> None:
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(BACKFILL_LOG=str(project / "log.txt"), BODY_S="0.01")
    command = subprocess.Popen(
        [sys.executable, "-m", "legato.cli.main", "backfill", "bf_assets.py", "days",
         "--from", "2021-01-01", "--to", "2021-12-31"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    deadline = time.monotonic() + 60
    while len(read_log(project / "log.txt")) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    command.send_signal(signal.SIGINT)
    output, _ = command.communicate(timeout=60)
    assert command.returncode == 130, output
    assert "legato backfill resume" in output
    status = json.loads(cli("backfill", "status", "last", "--json").stdout)
    assert status["status"] == "running" and status["succeeded"] < 365
    resumed = cli("backfill", "resume", status["backfill_id"], env={"BODY_S": "0"})
    assert resumed.exit_code == 0, resumed.output
    assert "completed: 365 succeeded" in resumed.output
    assert set(executions(read_log(project / "log.txt")).values()) == {1}
