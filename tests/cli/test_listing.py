"""``legato runs``, ``show``, ``logs`` and ``assets``: tables for people, JSON for programs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from legato.cli.commands.runs import parse_since
from legato.cli.errors import CommandLineError

if TYPE_CHECKING:
    from tests.cli.conftest import Cli, Script


@pytest.fixture
def history(cli: Cli, pipelines: Path) -> list[dict[str, object]]:
    """Three runs: a succeeded flow, a failed flow, a materialization; newest first."""
    assert cli("run", "pipelines.py", "adder", "-p", "a=1").exit_code == 0
    assert cli("run", "pipelines.py", "failing").exit_code == 1
    assert cli("materialize", "pipelines.py", "*doubled").exit_code == 0
    runs = cli.json("runs", "--json")
    assert isinstance(runs, list)
    return runs


def test_runs_lists_newest_first_with_filters(cli: Cli, history: list[dict[str, object]]
                                              ) -> None:
    assert [r["target"] for r in history] == ["raw,doubled", "failing", "adder"]
    assert [r["status"] for r in history] == ["succeeded", "failed", "succeeded"]
    assert set(history[0]) >= {"run_id", "kind", "target", "status", "params", "created_at",
                               "ended_at", "error"}
    failed = cli.json("runs", "--status", "failed", "--json")
    assert [r["target"] for r in failed] == ["failing"]
    adder = cli.json("runs", "--target", "adder", "--json")
    assert [r["status"] for r in adder] == ["succeeded"]
    assert len(cli.json("runs", "--limit", "2", "--json")) == 2
    assert len(cli.json("runs", "--since", "1h", "--json")) == 3
    assert cli.json("runs", "--since", "2999-01-01", "--json") == []


def test_runs_table(cli: Cli, history: list[dict[str, object]]) -> None:
    result = cli("runs")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["run", "kind", "target", "status", "started", "duration",
                                "error"]
    assert str(history[1]["run_id"]) in lines[2]
    assert "failed" in lines[2]
    assert "boom 1" in lines[2]
    assert "just now" in lines[1] or "s ago" in lines[1]


def test_runs_bad_filters(cli: Cli, project: Path) -> None:
    bad_since = cli("runs", "--since", "yesterday")
    assert bad_since.exit_code == 2
    assert "--since 'yesterday' is neither an age nor a date" in bad_since.stderr
    bad_status = cli("runs", "--status", "exploded")
    assert bad_status.exit_code == 2
    assert cli("runs").stdout.startswith("no runs yet")


def test_parse_since() -> None:
    now = 1_000_000.0
    assert parse_since("1d", now) == now - 86400
    assert parse_since("1h30m", now) == now - 5400
    assert parse_since("2w", now) == now - 2 * 604800
    assert parse_since("45s", now) == now - 45
    assert parse_since("2024-05-01T00:00:00+00:00", now) == 1714521600.0
    with pytest.raises(CommandLineError):
        parse_since("1x", now)


def test_show_by_full_id_prefix_and_last(cli: Cli, history: list[dict[str, object]]) -> None:
    run_id = str(history[1]["run_id"])
    by_id = cli.json("show", run_id, "--json")
    assert by_id["run"]["run_id"] == run_id
    assert by_id["run"]["status"] == "failed"
    assert by_id["run"]["error"]
    [step] = by_id["steps"]
    assert (step["step_key"], step["status"], step["attempts"]) == ("explode", "failed", 2)
    assert step["error"] == "ValueError: boom 1"
    assert "Traceback" in step["traceback"]
    # a unique prefix; the newest run for 'last'
    others = {str(r["run_id"]) for r in history} - {run_id}
    length = next(n for n in range(1, len(run_id) + 1)
                  if not any(o.startswith(run_id[:n]) for o in others))
    assert cli.json("show", run_id[:length], "--json")["run"]["run_id"] == run_id
    assert cli.json("show", "last", "--json")["run"]["run_id"] == history[0]["run_id"]


def test_show_table(cli: Cli, history: list[dict[str, object]]) -> None:
    result = cli("show", str(history[1]["run_id"]))
    assert result.exit_code == 0
    text = result.stdout
    assert f"run       {history[1]['run_id']}  failed" in text
    assert "flow      failing" in text
    step_line = next(line for line in text.splitlines() if line.startswith("explode"))
    assert step_line.split()[:3] == ["explode", "failed", "2"]
    assert "ValueError: boom 1" in step_line


def test_show_unknown_or_ambiguous_run(cli: Cli, history: list[dict[str, object]]) -> None:
    unknown = cli("show", "nope")
    assert unknown.exit_code == 2
    assert unknown.stderr == "error: no run matches 'nope'\nhint: list runs with: legato runs\n"
    common = str(history[0]["run_id"])[:1]  # all ids made within seconds share a prefix
    ambiguous = cli("show", common)
    assert ambiguous.exit_code == 2
    assert "more than one run matches" in ambiguous.stderr


def test_logs_per_step_and_attempt(cli: Cli, history: list[dict[str, object]]) -> None:
    run_id = str(history[2]["run_id"])  # adder
    lines = cli.json("logs", run_id, "--json")["lines"]
    assert [(line["step_key"], line["attempt"], line["stream"], line["message"])
            for line in lines] == [("add", 1, "stdout", "adding 1 and 1")]
    assert lines[0]["level"] == 20
    text = cli("logs", run_id).stdout.splitlines()
    assert text[0].startswith("── add · attempt 1/1 succeeded after ")
    assert text[1].split()[1:] == ["stdout", "INFO", "adding", "1", "and", "1"]


def test_logs_of_one_step_and_an_unknown_step(cli: Cli, history: list[dict[str, object]]
                                              ) -> None:
    assert cli.json("logs", "last", "raw", "--json")["lines"] == []
    raw = cli("logs", "last", "raw").stdout.splitlines()  # no output, but an attempt
    assert len(raw) == 1 and raw[0].startswith("── raw · attempt 1/1 succeeded after ")
    doubled = cli.json("logs", "last", "doubled", "--json")["lines"]
    assert [line["message"] for line in doubled] == ["doubling with 2"]
    unknown = cli("logs", "last", "doubld")
    assert unknown.exit_code == 2
    assert "has no step 'doubld'; did you mean 'doubled'?" in unknown.stderr


def test_assets_with_definitions(cli: Cli, history: list[dict[str, object]]) -> None:
    assets = cli.json("assets", "pipelines.py", "--json")
    by_key = {a["asset_key"]: a["latest_materialization"] for a in assets}
    order = list(by_key)
    assert set(order) == {"other", "raw", "doubled", "total"}
    assert order.index("raw") < order.index("doubled") < order.index("total")
    assert by_key["total"] is None and by_key["other"] is None
    raw = by_key["raw"]
    assert raw["run_id"] == history[0]["run_id"]
    assert raw["row_count"] == 3
    assert raw["data_version"]
    table = cli("assets", "pipelines.py").stdout
    total_line = next(line for line in table.splitlines() if line.startswith("total"))
    assert "never materialized" in total_line
    raw_line = next(line for line in table.splitlines() if line.startswith("raw"))
    assert "just now" in raw_line or "s ago" in raw_line
    assert str(history[0]["run_id"]) in raw_line


def test_assets_without_definitions_lists_the_catalog(cli: Cli,
                                                      history: list[dict[str, object]]
                                                      ) -> None:
    """Every recorded asset, materialized or not, in dependency order."""
    assets = cli.json("assets", "--json")
    assert [a["asset_key"] for a in assets] == ["other", "raw", "doubled", "total"]
    by_key = {a["asset_key"]: a for a in assets}
    assert by_key["doubled"]["latest_materialization"]["run_id"] == history[0]["run_id"]
    assert by_key["total"]["latest_materialization"] is None
    assert by_key["total"]["upstream"] == ["doubled"]


CATALOGUED = '''
import legato as lg

IMPORTED = open("imported.txt", "a").write("imported\\n")


@lg.asset(owner="data-team")
def landing():
    """Orders as they land."""
    return [1, 2]


@lg.asset(partitions=lg.DailyPartitions(start="2026-01-01"))
def daily(ctx, landing):
    return len(landing)


@lg.asset
def report(daily):
    return daily
'''


def test_assets_without_the_project_file_never_import_it(project: Path, legato: Script
                                                         ) -> None:
    """In a folder without the definitions, ``legato assets`` lists every asset the last
    writer recorded (never-materialized ones too), with upstreams, description, owner and
    partitions, and never imports the user's module."""
    (project / "etl.py").write_text(CATALOGUED)
    done = legato(project, "materialize", "etl.py", "landing")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "imported.txt").read_text() == "imported\n"
    elsewhere = project / "elsewhere"
    elsewhere.mkdir()
    store = f"sqlite:///{project / '.legato' / 'legato.db'}"
    listed = legato(elsewhere, "assets", "--json", LEGATO_DATABASE_URL=store)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert (project / "imported.txt").read_text() == "imported\n"  # not imported again
    assets = {a["asset_key"]: a for a in json.loads(listed.stdout)}
    assert list(assets) == ["landing", "daily", "report"]
    assert assets["landing"]["owner"] == "data-team"
    assert assets["landing"]["description"] == "Orders as they land."
    assert assets["landing"]["latest_materialization"] is not None
    assert assets["daily"]["upstream"] == ["landing"]
    assert assets["daily"]["partitions"] == {
        "definition": "daily from 2026-01-01 (UTC)", "materialized": 0}
    assert assets["report"]["latest_materialization"] is None
    table = legato(elsewhere, "assets", LEGATO_DATABASE_URL=store).stdout
    assert "never materialized" in next(line for line in table.splitlines()
                                        if line.startswith("report"))


def test_assets_from_the_definitions_setting(cli: Cli, project: Path,
                                             pipelines: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.legato]\ndefinitions = "pipelines.py"\n')
    assets = cli.json("assets", "--json")
    assert {a["asset_key"] for a in assets} == {"raw", "doubled", "total", "other"}
    assert all(a["latest_materialization"] is None for a in assets)
    assert cli("assets", "nothing.txt").exit_code == 2


def test_listings_on_an_empty_store(cli: Cli, project: Path) -> None:
    assert cli.json("runs", "--json") == []
    assert cli.json("assets", "--json") == []
    assert cli("show", "last").exit_code == 2
    assert cli("logs", "last").exit_code == 2


def test_relative_ages_in_tables(cli: Cli, pipelines: Path) -> None:
    from legato.cli.render import ago, duration

    now = time.time()
    assert ago(now - 0.2, now) == "just now"
    assert ago(now - 12, now) == "12s ago"
    assert ago(now - 180, now) == "3m ago"
    assert ago(now - 5 * 3600, now) == "5h ago"
    assert ago(now - 2 * 86400, now) == "2d ago"
    assert duration(None) == "-"
    assert duration(0.0123) == "0.012s"
    assert duration(1.44) == "1.4s"
    assert duration(125) == "2m 05s"
    assert duration(3 * 3600 + 120) == "3h 02m"


FLAKY = '''
import logging

import legato as lg


@lg.task(retries=lg.Retry(1, base=0.01, jitter=False))
def flaky(ctx) -> int:
    print(f"try {ctx.attempt}")
    logging.getLogger("flaky").warning("careful")
    if ctx.attempt == 1:
        raise RuntimeError("first try fails")
    return ctx.attempt


@lg.flow
def retrying():
    return flaky()
'''


def test_logs_of_a_retried_step_are_grouped_by_attempt(cli: Cli, project: Path) -> None:
    (project / "flaky.py").write_text(FLAKY)
    assert cli("run", "flaky.py", "retrying").exit_code == 0
    lines = cli.json("logs", "last", "--json")["lines"]
    by_attempt = sorted({(line["attempt"], line["stream"], line["message"]) for line in lines})
    assert (1, "stdout", "try 1") in by_attempt
    assert (2, "stdout", "try 2") in by_attempt
    assert any(attempt == 2 and stream == "log" and "careful" in message
               for attempt, stream, message in by_attempt)
    text = cli("logs", "last").stdout.splitlines()
    headers = [line for line in text if line.startswith("──")]
    assert [h.split(" after ")[0] for h in headers] == [
        "── flaky · attempt 1/2 failed", "── flaky · attempt 2/2 succeeded"]
    assert headers[0].endswith(": RuntimeError: first try fails (retrying)")
    traceback = text.index("Traceback (most recent call last):")
    assert text.index(headers[0]) < traceback < text.index(headers[1])
    assert 'raise RuntimeError("first try fails")' in "\n".join(text)
    attempts = cli.json("logs", "last", "--json")["attempts"]
    assert [(a["attempt"], a["of"], a["status"], a["next"]) for a in attempts] == [
        (1, 2, "failed", "retry"), (2, 2, "succeeded", None)]
    assert "RuntimeError" in attempts[0]["traceback"] and attempts[1]["traceback"] is None
    warning = next(line for line in text if "careful" in line)
    assert " log    WARNING " in warning
    shown = cli.json("show", "last", "--json")
    assert shown["steps"][0]["attempts"] == 2


def test_runs_queued_filters_before_the_limit(cli: Cli, project: Path) -> None:
    """Matching runs behind a full page of others in the queue are found: the filters are
    part of the query, not applied to its first page."""
    from legato.settings import load_settings
    from legato.store.queue import enqueue, queued_event
    from legato.store.sql_store import SqlStore

    def queued(target: str, n: int, start: float, priority: int = 0) -> list[object]:
        return [queued_event(f"{target}-{i}", kind="flow", target=target, params={},
                             source=None, priority=priority, at=start + i)
                for i in range(n)]

    with SqlStore(load_settings().store_url) as store:
        enqueue(store, [*queued("wanted", 3, 1000.0),
                        *queued("other", 5, 2000.0, priority=1),  # claimed first
                        *queued("older", 5, 500.0)])  # older, claimed before "wanted"
    found = cli.json("runs", "--queued", "--target", "wanted", "-n", "2", "--json")
    assert [r["run_id"] for r in found] == ["wanted-0", "wanted-1"]
    table = cli("runs", "--queued", "--target", "wanted", "-n", "2")
    assert "wanted-0" in table.output and "wanted-1" in table.output
    assert "wanted-2" not in table.output and "other" not in table.output
    assert cli("runs", "--queued", "--target", "nope").stdout.startswith(
        "no queued runs match these filters")
    conflicting = cli("runs", "--queued", "--status", "running")
    assert conflicting.exit_code == 2
    assert "--status running matches none of them" in conflicting.stderr
    newest = cli.json("runs", "--target", "wanted", "-n", "2", "--json")
    assert [r["run_id"] for r in newest] == ["wanted-2", "wanted-1"]
