"""``legato init``: the scaffolded project works as it is, and nothing is overwritten."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tests.cli.conftest import Invoke, parse_json, run_legato


def test_init_then_materialize_and_run(cli: Invoke, project: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", "demo")
    assert result.exit_code == 0, result.output
    demo = project / "demo"
    assert sorted(p.name for p in demo.iterdir()) == [".gitignore", "README.md",
                                                     "pipelines.py", "pyproject.toml"]
    config = tomllib.loads((demo / "pyproject.toml").read_text())
    assert config["tool"]["legato"]["definitions"] == "pipelines.py"
    assert config["project"]["name"] == "demo"
    assert "cd demo && legato materialize" in result.stdout

    monkeypatch.chdir(demo)
    materialized = cli("materialize")
    assert materialized.exit_code == 0, materialized.output
    assets = parse_json(cli("assets", "--json"))
    assert len(assets) == 3
    assert all(a["materialization"] is not None for a in assets)
    ran = cli("run", "hello", "--param", "name=you", "--param", "times=3")
    assert ran.exit_code == 0, ran.output
    shown = parse_json(cli("show", "last", "--json"))
    assert shown["run"]["params"] == {"name": "you", "times": 3}
    assert [s["status"] for s in shown["steps"]] == ["succeeded"] * 3
    logs = parse_json(cli("logs", "last", "--json"))
    assert [line["message"] for line in logs] == [f"hello, you! ({n})" for n in (1, 2, 3)]
    assert (demo / ".legato" / "legato.db").is_file()


def test_init_with_the_real_command(project: Path) -> None:
    """The same two commands a new user types, in a fresh process each."""
    assert run_legato(project, "init", "fresh").returncode == 0
    fresh = project / "fresh"
    materialized = run_legato(fresh, "materialize")
    assert materialized.returncode == 0, materialized.stderr
    ran = run_legato(fresh, "run", "hello")
    assert ran.returncode == 0, ran.stderr
    runs = json.loads(run_legato(fresh, "runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]


def test_init_in_the_current_folder(cli: Invoke, project: Path) -> None:
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert (project / "pipelines.py").is_file()
    assert "next: legato materialize" in result.stdout


def test_init_never_overwrites(cli: Invoke, project: Path) -> None:
    demo = project / "demo"
    demo.mkdir()
    (demo / "pipelines.py").write_text("# mine\n")
    result = cli("init", "demo")
    assert result.exit_code == 2
    assert "already has pipelines.py" in result.stderr
    assert "never overwrites" in result.stderr
    assert (demo / "pipelines.py").read_text() == "# mine\n"
    assert not (demo / "pyproject.toml").exists()  # nothing half-written


def test_init_where_a_file_is_in_the_way(cli: Invoke, project: Path) -> None:
    (project / "taken").write_text("")
    result = cli("init", "taken")
    assert result.exit_code == 2
    assert "error: " in result.stderr
