"""Settings: LEGATO_* variables over [tool.legato] over defaults, one clear error per bad
value."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato.errors import SettingsError
from legato.settings import load_settings


def write_pyproject(folder: Path, body: str) -> None:
    (folder / "pyproject.toml").write_text(f'[project]\nname = "demo"\n\n[tool.legato]\n{body}')


def test_defaults_put_the_store_in_the_project(project: Path) -> None:
    settings = load_settings()
    assert settings.executor == "threads" and settings.max_parallel == 8
    assert settings.durability == "normal" and settings.concurrency == {}
    assert settings.store_url == f"sqlite:///{project / '.legato' / 'legato.db'}"
    assert settings.value_dir == project / ".legato" / "values"


def test_pyproject_table_is_read_from_the_project_root(project: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write_pyproject(project, 'executor = "processes"\nmax_parallel = 3\n'
                             'concurrency = { warehouse = 2 }\nhome = "state"\n')
    (project / "pkg").mkdir()
    monkeypatch.chdir(project / "pkg")  # a sub-folder still finds the project's settings
    settings = load_settings()
    assert (settings.executor, settings.max_parallel) == ("processes", 3)
    assert settings.concurrency == {"warehouse": 2}
    assert settings.home_dir == project / "state"


def test_environment_wins_over_pyproject(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_pyproject(project, 'executor = "processes"\n')
    monkeypatch.setenv("LEGATO_EXECUTOR", "inline")
    monkeypatch.setenv("LEGATO_CONCURRENCY", '{"db": 1}')
    monkeypatch.setenv("LEGATO_DATABASE_URL", "postgresql+psycopg://u@h/db")
    settings = load_settings()
    assert settings.executor == "inline" and settings.concurrency == {"db": 1}
    assert settings.store_url == "postgresql+psycopg://u@h/db"


def test_every_bad_value_is_named_in_one_error(project: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    write_pyproject(project, "max_parallel = 0\nconcurrency = { db = 0 }\n")
    monkeypatch.setenv("LEGATO_EXECUTOR", "thread")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "executor" in message and "'thread'" in message
    assert "max_parallel" in message and "concurrency" in message
    assert caught.value.hint and "pyproject.toml" in caught.value.hint


def test_unknown_setting_is_refused(project: Path) -> None:
    write_pyproject(project, 'executer = "threads"\n')
    with pytest.raises(SettingsError, match="executer"):
        load_settings()


def test_a_broken_pyproject_is_a_settings_error(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.legato\nexecutor = ")
    with pytest.raises(SettingsError, match="cannot read settings"):
        load_settings()
