"""``legato run``: typed parameters, exit codes, the step summary, where definitions come
from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.cli.conftest import Cli



def _last_run(cli: Cli) -> dict[str, object]:
    shown = cli.json("show", "last", "--json")
    assert isinstance(shown, dict)
    return shown


def test_run_succeeds_records_the_run_and_prints_a_summary(cli: Cli, pipelines: Path) -> None:
    result = cli("run", "pipelines.py", "adder", "--param", "a=2")
    assert result.exit_code == 0, result.output
    shown = _last_run(cli)
    run = shown["run"]
    assert isinstance(run, dict)
    assert run["status"] == "succeeded"
    assert run["target"] == "adder"
    assert run["params"] == {"a": 2}
    assert run["definitions"] == f"file:{pipelines}"
    # one plain line per finished step (stdout is not a terminal), then the table and hints
    assert "succeeded  add" in result.stdout
    assert f"run {run['run_id']} succeeded" in result.stdout
    assert f"legato show {run['run_id']}" in result.stdout
    assert "output: 3.0" in result.stdout.splitlines()  # what the flow returned


def test_params_are_typed_by_the_flow_annotations(cli: Cli, pipelines: Path) -> None:
    result = cli("run", "pipelines.py", "adder", "-p", "a=2", "-p", "b=40", "-p", "scale=0.5",
                 "-p", "loud=yes", "-p", "tag=007", "-p", 'extra={"k": [1, 2]}')
    assert result.exit_code == 0, result.output
    assert _last_run(cli)["run"]["params"] == {  # type: ignore[index]
        "a": 2, "b": 40, "scale": 0.5, "loud": True, "tag": "007", "extra": {"k": [1, 2]}}
    logs = cli.json("logs", "last", "--json")["lines"]
    messages = [line["message"] for line in logs]
    assert "adding 2 and 40" in messages  # ints reached the task, not strings
    # the flow's own body is not a step: what it prints goes to the terminal
    assert "scale=0.5 loud=True tag='007' extra={'k': [1, 2]}" in result.stdout


def test_an_unannotated_param_that_is_not_json_stays_a_string(cli: Cli,
                                                              pipelines: Path) -> None:
    assert cli("run", "pipelines.py", "adder", "-p", "a=1", "-p", "extra=hello").exit_code == 0
    assert _last_run(cli)["run"]["params"]["extra"] == "hello"  # type: ignore[index]


def test_bad_params_exit_2_with_a_clear_message(cli: Cli, pipelines: Path) -> None:
    cases = {
        ("a=two",): "'a' takes an int, and 'two' is not one",
        ("a=1", "loud=maybe"): "'loud' takes true or false",
        ("a=1", "scale=big"): "'scale' takes a float",
        ("a=1", "nope=1"): "flow 'adder' has no parameter 'nope'",
        ("a",): "--param 'a' is not KEY=VALUE",
        ("a=1", "a=2"): "--param a is given twice",
        (): "flow 'adder' cannot take these parameters",  # a is required
    }
    for pairs, message in cases.items():
        args = [arg for pair in pairs for arg in ("--param", pair)]
        result = cli("run", "pipelines.py", "adder", *args)
        assert result.exit_code == 2, (pairs, result.output)
        assert result.stderr.startswith("error: "), result.stderr
        assert message in result.stderr, (pairs, result.stderr)
        assert "Traceback" not in result.output
    runs = cli.json("runs", "--json")
    assert runs == []  # nothing was started


def test_a_failed_run_exits_1_and_shows_the_error(cli: Cli, pipelines: Path) -> None:
    result = cli("run", "pipelines.py", "failing")
    assert result.exit_code == 1, result.output
    assert "ValueError: boom 1" in result.stdout
    shown = _last_run(cli)
    assert shown["run"]["status"] == "failed"  # type: ignore[index]
    [step] = shown["steps"]  # type: ignore[misc]
    assert step["step_key"] == "explode"
    assert step["status"] == "failed"
    assert step["attempts"] == 2
    assert f"legato logs {shown['run']['run_id']}" in result.stdout  # type: ignore[index]


def test_a_task_runs_as_a_one_step_flow(cli: Cli, pipelines: Path) -> None:
    result = cli("run", "pipelines.py", "add", "-p", "a=1", "-p", "b=2")
    assert result.exit_code == 0, result.output
    shown = _last_run(cli)
    assert [s["step_key"] for s in shown["steps"]] == ["add"]  # type: ignore[attr-defined]


def test_naming_an_unknown_flow_or_an_asset(cli: Cli, pipelines: Path) -> None:
    unknown = cli("run", "pipelines.py", "addr")
    assert unknown.exit_code == 2
    assert "no flow named 'addr'; did you mean 'adder'?" in unknown.stderr
    asset = cli("run", "pipelines.py", "total")
    assert asset.exit_code == 2
    assert "'total' is an asset" in asset.stderr
    assert "hint: materialize it: legato materialize total" in asset.stderr
    missing = cli("run", "pipelines.py")
    assert missing.exit_code == 2
    assert "legato run takes one flow name, got no flow name" in missing.stderr


def test_definitions_from_a_module(cli: Cli, project: Path) -> None:
    package = project / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "flows_for_module_test.py").write_text(
        "import legato as lg\n\n@lg.task\ndef one() -> int:\n    return 1\n\n"
        "@lg.flow\ndef single():\n    return one()\n")
    result = cli("run", "-m", "mypkg.flows_for_module_test", "single")
    assert result.exit_code == 0, result.output
    assert _last_run(cli)["run"]["definitions"] == "module:mypkg.flows_for_module_test"  # type: ignore[index]


def test_definitions_from_the_setting(cli: Cli, project: Path, pipelines: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "pyproject.toml").write_text('[tool.legato]\ndefinitions = "pipelines.py"\n')
    sub = project / "sub"
    sub.mkdir()
    assert cli("run", "adder", "-p", "a=1").exit_code == 0
    # the setting is relative to the project root, not the current folder
    monkeypatch.chdir(sub)
    assert cli("run", "adder", "-p", "a=1").exit_code == 0


def test_definitions_from_the_environment(cli: Cli, project: Path, pipelines: Path) -> None:
    result = cli("run", "adder", "-p", "a=1", env={"LEGATO_DEFINITIONS": str(pipelines)})
    assert result.exit_code == 0, result.output


def test_no_definitions_named_is_an_error_with_a_hint(cli: Cli, project: Path) -> None:
    result = cli("run", "adder")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: no definitions to load"
    assert "hint: name a file (legato run pipelines.py ...)" in result.stderr
    assert "LEGATO_DEFINITIONS" in result.stderr


def test_a_missing_definitions_file(cli: Cli, project: Path) -> None:
    result = cli("run", "nowhere.py", "adder")
    assert result.exit_code == 2
    assert "error: no such file: nowhere.py" in result.stderr


def test_a_definitions_file_that_raises_on_import(cli: Cli, project: Path) -> None:
    (project / "broken_on_import.py").write_text(
        "import legato as lg\n\n\nraise RuntimeError('cannot reach the warehouse')\n")
    result = cli("run", "broken_on_import.py", "adder")
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ")
    assert "broken_on_import.py:4" in first
    assert "RuntimeError: cannot reach the warehouse" in first
    assert "Traceback" not in result.output
    debug = cli("--debug", "run", "broken_on_import.py", "adder")
    assert debug.exit_code == 2
    assert "Traceback" in debug.stderr
    assert "cannot reach the warehouse" in debug.stderr


def test_a_cycle_in_the_definitions(cli: Cli, project: Path) -> None:
    (project / "cyclic.py").write_text(
        "import legato as lg\n\n@lg.asset\ndef a(b):\n    return b\n\n"
        "@lg.asset\ndef b(a):\n    return a\n")
    result = cli("materialize", "cyclic.py")
    assert result.exit_code == 2
    assert "cycle" in result.stderr
    assert "cyclic.py:" in result.stderr


def test_bad_settings_exit_2(cli: Cli, pipelines: Path) -> None:
    result = cli("run", "pipelines.py", "adder", "-p", "a=1", env={"LEGATO_EXECUTOR": "bogus"})
    assert result.exit_code == 2
    assert "LEGATO_EXECUTOR" in result.stderr
    assert "bogus" in result.stderr
    listing = cli("runs", env={"LEGATO_MAX_PARALLEL": "0"})
    assert listing.exit_code == 2
    assert "LEGATO_MAX_PARALLEL" in listing.stderr


def test_an_unknown_executor_on_the_command_line(cli: Cli, pipelines: Path) -> None:
    result = cli("run", "pipelines.py", "adder", "--executor", "fast")
    assert result.exit_code == 2
    assert "error: " in result.stderr
    assert "unknown executor 'fast'" in result.stderr
    assert "known: inline, threads, processes" in result.stderr


def test_executor_and_max_parallel_options(cli: Cli, pipelines: Path) -> None:
    for executor in ("inline", "threads", "processes"):
        result = cli("run", "pipelines.py", "adder", "-p", "a=1", "--executor", executor,
                     "--max-parallel", "2")
        assert result.exit_code == 0, (executor, result.output)
    assert cli("run", "pipelines.py", "adder", "-j", "0").exit_code == 2


def test_a_store_that_cannot_be_opened_exits_3(cli: Cli, project: Path,
                                               pipelines: Path) -> None:
    (project / "not-a-folder").write_text("")
    result = cli("run", "pipelines.py", "adder", "-p", "a=1",
                 env={"LEGATO_HOME": str(project / "not-a-folder")})
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error: cannot create the store folder")
    unsupported = cli("runs", env={"LEGATO_DATABASE_URL": "mysql://nobody@localhost/x"})
    assert unsupported.exit_code == 3
    assert "unsupported store URL" in unsupported.stderr


def test_json_of_show_is_plain(cli: Cli, pipelines: Path) -> None:
    cli("run", "pipelines.py", "adder", "-p", "a=1")
    text = cli("show", "last", "--json").stdout
    assert "\x1b[" not in text
    assert set(json.loads(text)) == {"run", "steps"}


MANY = '''
import legato as lg


@lg.task
def check(i: int) -> int:
    if i % 10 == 3:
        raise ValueError(f"bad item {i}")
    return i


@lg.flow
def many(n: int = 40):
    futures = check.map(range(n))
    return [f.result() for f in futures if f.step_key.endswith("0]")]
'''


def test_a_big_run_summary_shows_counts_and_the_steps_that_did_not_succeed(
        cli: Cli, project: Path) -> None:
    (project / "many.py").write_text(MANY)
    result = cli("run", "many.py", "many")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    summary = lines[lines.index(next(line for line in lines if line.startswith("40 steps: "))):]
    assert summary[0] == "40 steps: 36 succeeded · 4 failed"
    table = [line for line in summary[1:] if line.startswith("check[")]
    assert [line.split()[:2] for line in table] == [
        [f"check[{i}]", "failed"] for i in (3, 13, 23, 33)]
    assert "bad item 13" in table[1]


def test_an_idempotency_key_that_is_not_text_exits_2(cli: Cli, pipelines: Path) -> None:
    """``$'k\\xff'`` in a shell: bytes that are not UTF-8 reach Python as a surrogate."""
    for command in ("run", "trigger"):
        result = cli(command, "pipelines.py", "adder", "-p", "a=1",
                     "--idempotency-key", "k\udcff")
        assert result.exit_code == 2, result.output
        assert "--idempotency-key 'k\\udcff' is not valid text" in result.output
        assert "Traceback" not in result.output


def test_non_finite_params_are_refused(cli: Cli, pipelines: Path) -> None:
    for pair in ("scale=nan", "scale=inf", "extra=NaN", "extra=[1, -Infinity]"):
        result = cli("run", "pipelines.py", "adder", "-p", "a=1", "-p", pair)
        assert result.exit_code == 2, result.output
        assert "NaN and infinite numbers are not allowed in parameters" in result.output
    assert cli.json("runs", "--json") == []


def test_json_output_is_strict_even_for_a_nan_recorded_by_the_api(
        cli: Cli, pipelines: Path, project: Path) -> None:
    import json as jsonlib
    import math

    import legato as lg
    from legato.settings import load_settings

    defs = lg.load(str(pipelines))
    result = lg.run(defs.flow("adder"), settings=load_settings(), a=1, scale=math.nan)

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    for args in (("show", result.run_id), ("runs",)):
        shown = cli(*args, "--json")
        assert shown.exit_code == 0, shown.output
        jsonlib.loads(shown.stdout, parse_constant=refuse)
    shown = jsonlib.loads(cli("show", result.run_id, "--json").stdout)
    assert shown["run"]["params"]["scale"] is None
