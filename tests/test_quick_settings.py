"""The simple settings read without pydantic: the same values as ``load_settings()`` when
the configuration holds only them, else None (and ``load_settings()`` decides)."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato.errors import SettingsError
from legato.quick_settings import QuickSettings, quick_settings, read_settings
from legato.settings import Settings, load_settings


def write_pyproject(folder: Path, body: str) -> None:
    (folder / "pyproject.toml").write_text(f'[project]\nname = "demo"\n\n[tool.legato]\n{body}')


def same(quick: QuickSettings | None, full: Settings) -> None:
    assert quick is not None
    assert (quick.store_url, quick.durability, quick.definitions, quick.root, quick.home_dir) \
        == (full.store_url, full.durability, full.definitions, full.root, full.home_dir)


def test_defaults(project: Path) -> None:
    same(quick_settings(), load_settings())


def test_pyproject_and_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_pyproject(project, 'home = "state"\ndurability = "full"\ndefinitions = "p.py"\n')
    (project / "pkg").mkdir()
    monkeypatch.chdir(project / "pkg")
    same(quick_settings(), load_settings())
    monkeypatch.setenv("LEGATO_HOME", str(project / "elsewhere"))
    monkeypatch.setenv("legato_database_url", "sqlite:////tmp/x/legato.db")
    same(quick_settings(), load_settings())


@pytest.mark.parametrize(("body", "env"), [
    ('executor = "processes"\n', {}),  # another setting: validated by pydantic
    ("home = 3\n", {}),
    ('durability = "fast"\n', {}),
    ('home = ""\n', {}),
    ("", {"LEGATO_MAX_PARALLEL": "2"}),
    ("", {"LEGATO_DURABILITY": "sometimes"}),
    ("", {"LEGATO_HOME": ""}),
    ("[broken\n", {}),
])
def test_anything_else_is_left_to_load_settings(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                body: str, env: dict[str, str]) -> None:
    write_pyproject(project, body)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert quick_settings() is None


def test_read_settings_words_bad_settings_as_load_settings_does(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGATO_DURABILITY", "sometimes")
    with pytest.raises(SettingsError, match="LEGATO_DURABILITY"):
        read_settings()
    monkeypatch.delenv("LEGATO_DURABILITY")
    assert isinstance(read_settings(), QuickSettings)
