"""``legato backfill`` starts backfills and ``legato backfills`` lists, shows, cancels and
resumes them; rerun; bad input exits 2; an asset may be named like an action; and
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
    status = cli.json("backfills", "status", "last", "--json")
    assert status["status"] == "completed" and status["succeeded"] == 20
    assert status["max_concurrent"] == 2 and status["cursor"] == "2020-01-20"
    listed = cli.json("backfills", "--json")
    assert [b["backfill_id"] for b in listed] == [status["backfill_id"]]
    shown = cli("backfills")
    assert status["backfill_id"] in shown.output and "20/20" in shown.output
    assets = {a["asset_key"]: a for a in cli.json("assets", "bf_assets.py", "--json")}
    assert assets["days"]["partitions"] == {"definition": "daily from 2020-01-01 (UTC)",
                                            "materialized": 20}
    assert assets["plain"]["partitions"] is None
    assert "20 of daily from 2020-01-01 (UTC)" in cli("assets", "bf_assets.py").output


def test_detach_only_creates_the_backfill(cli: Cli, kit: Path, project: Path) -> None:
    result = cli("backfill", "bf_assets.py", "days", "--from", "2020-01-01", "--to",
                 "2020-01-03", "--detach")
    assert result.exit_code == 0, result.output
    assert "detached" in result.output and "legato backfills status" in result.output
    status = cli.json("backfills", "status", "last", "--json")
    assert status["status"] == "running" and status["succeeded"] == 0
    assert status["queued"] == status["running"] == 0  # nothing planned nor run here
    assert not (project / "log.txt").exists() or read_log(project / "log.txt") == []


def test_failed_partitions_exit_1_and_rerun(cli: Cli, kit: Path) -> None:
    failing = {"FAIL_ON": "2020-01-02"}
    result = cli("backfill", "bf_assets.py", "days", "--partitions",
                 "2020-01-01,2020-01-02,2020-01-03", env=failing)
    assert result.exit_code == 1, result.output
    assert "1 partition failed (2020-01-02)" in result.output
    first = cli.json("backfills", "status", "last", "--json")
    assert first["failed_partitions"] == ["2020-01-02"]
    again = cli("backfill", "bf_assets.py", "--rerun-failed", first["backfill_id"],
                env={"FAIL_ON": ""})
    assert again.exit_code == 0, again.output
    assert "1 partition of days (2020-01-02)" in again.output
    ended = cli("backfills", "resume", first["backfill_id"])
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
    canceled = cli.json("backfills", "cancel", record.backfill_id[:10], "--json")
    assert canceled == {"backfill_id": record.backfill_id, "status": "canceled",
                        "canceled_runs": 4, "already_ended": False}
    again = cli("backfills", "cancel", record.backfill_id)
    assert again.exit_code == 0 and "had already ended (canceled)" in again.output


@pytest.mark.parametrize(("args", "words"), [
    (["days", "--from", "2020-02-01", "--to", "2020-01-01"], "in the wrong order"),
    (["days", "--from", "2019-01-01", "--to", "2020-01-01"], "before the first partition"),
    (["dayz", "--from", "2020-01-01"], "did you mean 'days'"),
    (["plain"], "'plain' is not partitioned"),
    (["days", "--partitions", "2999-01-01"], "has not ended yet"),
    (["--rerun-failed", "nope"], "no backfill matches 'nope'"),
    ([], "name the partitioned assets to backfill"),
])
def test_bad_input_exits_2(cli: Cli, kit: Path, args: list[str], words: str) -> None:
    result = cli("backfill", "bf_assets.py", *args)
    assert result.exit_code == 2, result.output
    assert words in result.output


@pytest.mark.parametrize(("args", "words"), [
    (["status", "nope"], "no backfill matches 'nope'"),
    (["cancel"], "Missing argument 'ID'"),
    (["status", "--from", "2020-01-01"], "No such option: --from"),
    (["cancel", "x", "--partitions", "2020-01-01"], "No such option: --partitions"),
])
def test_bad_backfills_input_exits_2(cli: Cli, kit: Path, args: list[str],
                                     words: str) -> None:
    result = cli("backfills", *args)
    assert result.exit_code == 2, result.output
    assert words in result.output


@pytest.mark.parametrize(("args", "hint"), [
    (["status"], "did you mean: legato backfills"),
    (["status", "last"], "did you mean: legato backfills status last"),
    (["cancel", "1a1f"], "did you mean: legato backfills cancel 1a1f"),
    (["resume"], "did you mean: legato backfills resume ID"),
])
@pytest.mark.parametrize("file", [["bf_assets.py"], []])
def test_the_old_action_words_name_the_new_command(cli: Cli, kit: Path, args: list[str],
                                                    hint: str, file: list[str]) -> None:
    """``legato backfill status|cancel|resume`` moved to ``legato backfills``: without an
    asset of that name (or any definitions to look in), the error says so."""
    result = cli("backfill", *file, *args)
    assert result.exit_code == 2, result.output
    assert f"there is no asset named '{args[0]}' to backfill" in result.output
    assert hint in result.output


@pytest.mark.parametrize("name", ["status", "cancel", "resume"])
def test_an_asset_named_like_an_action_can_be_backfilled(
        cli: Cli, project: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The selection is the first argument when the definitions come from -m or the
    definitions setting: it used to be read as an action."""
    (project / f"named_{name}.py").write_text(
        "import legato as lg\n\n"
        "@lg.asset(partitions=lg.DailyPartitions(start='2020-01-01'))\n"
        f"def {name}(ctx):\n    return ctx.partition_key\n")
    monkeypatch.syspath_prepend(str(project))
    result = cli("backfill", "-m", f"named_{name}", name, "--from", "2020-01-01", "--to",
                 "2020-01-03")
    assert result.exit_code == 0, result.output
    assert f"3 partitions of {name} (2020-01-01 to 2020-01-03)" in result.output
    assert "completed: 3 succeeded, 0 failed of 3" in result.output
    [listed] = cli.json("backfills", "--json")
    assert listed["target"] == name and listed["succeeded"] == 3
    again = cli("backfill", f"named_{name}.py", name, "--partitions", "2020-01-04")
    assert again.exit_code == 0, again.output
    assert "completed: 1 succeeded" in again.output
