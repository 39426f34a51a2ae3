"""``legato init``: the scaffolded project works as it is, and nothing is overwritten."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.cli.conftest import Cli, Script



def test_init_then_materialize_and_run(cli: Cli, project: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
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
    assets = cli.json("assets", "--json")
    assert len(assets) == 3
    assert all(a["latest_materialization"] is not None for a in assets)
    ran = cli("run", "hello", "--param", "name=you", "--param", "times=3")
    assert ran.exit_code == 0, ran.output
    shown = cli.json("show", "last", "--json")
    assert shown["run"]["params"] == {"name": "you", "times": 3}
    assert [s["status"] for s in shown["steps"]] == ["succeeded"] * 3
    logs = cli.json("logs", "last", "--json")["lines"]
    assert [line["message"] for line in logs] == [f"hello, you! ({n})" for n in (1, 2, 3)]
    assert (demo / ".legato" / "legato.db").is_file()


def test_init_with_the_real_command(project: Path, legato: Script) -> None:
    """The same two commands a new user types, in a fresh process each."""
    assert legato(project, "init", "fresh").returncode == 0
    fresh = project / "fresh"
    materialized = legato(fresh, "materialize")
    assert materialized.returncode == 0, materialized.stderr
    ran = legato(fresh, "run", "hello")
    assert ran.returncode == 0, ran.stderr
    runs = json.loads(legato(fresh, "runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]


def test_init_in_the_current_folder(cli: Cli, project: Path) -> None:
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert (project / "pipelines.py").is_file()
    assert "next: legato materialize" in result.stdout


def test_init_never_overwrites(cli: Cli, project: Path) -> None:
    demo = project / "demo"
    demo.mkdir()
    (demo / "pipelines.py").write_text("# mine\n")
    result = cli("init", "demo")
    assert result.exit_code == 2
    assert "already has pipelines.py" in result.stderr
    assert "never overwrites" in result.stderr
    assert (demo / "pipelines.py").read_text() == "# mine\n"
    assert not (demo / "pyproject.toml").exists()  # nothing half-written


def test_init_where_a_file_is_in_the_way(cli: Cli, project: Path) -> None:
    (project / "taken").write_text("")
    result = cli("init", "taken")
    assert result.exit_code == 2
    assert "error: " in result.stderr


def test_the_scaffold_asks_for_legato_from_where_it_was_installed(cli: Cli,
                                                                   project: Path) -> None:
    """legato is not on PyPI yet: ``pip install -e .`` in the new project must resolve the
    dependency, so the scaffold points at the checkout this legato was installed from."""
    from importlib import metadata

    result = cli("init", "demo")
    assert result.exit_code == 0, result.output
    text = (project / "demo" / "pyproject.toml").read_text()
    dependencies = tomllib.loads(text)["project"]["dependencies"]
    origin = json.loads(metadata.distribution("legato").read_text("direct_url.json") or "{}")
    if origin.get("url", "").startswith("file:"):  # an editable install from a checkout
        assert dependencies == [f"legato @ {origin['url']}"]
        assert "# legato from the checkout" in text
        checkout = Path(origin["url"].removeprefix("file://"))
        assert (checkout / "pyproject.toml").is_file()  # pip can build it from there
    else:
        assert dependencies == ["legato"]
