"""Where the store is, read without pydantic: the settings a listing command needs.

``legato runs``, ``legato show`` and ``legato assets`` only need the store's URL (and the
definitions setting). Validating every setting through pydantic costs more than the
whole command, so when the configuration holds nothing but these simple settings
(``definitions``, ``home``, ``database_url``, ``durability``, as non-empty strings), they
are read here with the standard library. Any other setting, value or doubt (an unknown
key, another type, an unreadable pyproject.toml) goes through ``load_settings()``, which
validates everything and words the errors, exactly as before.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from legato.settings import Settings

SIMPLE = frozenset({"definitions", "home", "database_url", "durability"})
"""The settings read here; each is a string (``durability``: normal or full)."""


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder upwards holding a pyproject.toml, else the current folder."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here


def resolve_home(root: Path, home: Path) -> Path:
    """The ``home`` setting as a folder: relative to the project's root unless absolute."""
    return home if home.is_absolute() else root / home


def resolve_store_url(database_url: str | None, home: Path) -> str:
    """The store's URL: ``database_url``, else the embedded SQLite file in ``home``."""
    return database_url or f"sqlite:///{home / 'legato.db'}"


class StoreSettings(Protocol):
    """What a listing command reads of the settings; ``Settings`` has it too."""

    @property
    def definitions(self) -> str | None: ...

    @property
    def durability(self) -> str: ...

    @property
    def root(self) -> Path: ...

    @property
    def store_url(self) -> str: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class QuickSettings:
    """The simple settings, with the same defaults and meaning as in ``Settings``."""

    root: Path
    definitions: str | None = None
    home: Path = Path(".legato")
    database_url: str | None = None
    durability: str = "normal"

    @property
    def home_dir(self) -> Path:
        return resolve_home(self.root, self.home)

    @property
    def store_url(self) -> str:
        return resolve_store_url(self.database_url, self.home_dir)


def quick_settings(environ: dict[str, str] | None = None) -> QuickSettings | None:
    """The settings when they are all simple, else None (then ``load_settings()``)."""
    environ = dict(os.environ) if environ is None else environ
    from_env: dict[str, str] = {}
    for name, value in environ.items():
        if not name.upper().startswith("LEGATO_"):
            continue
        key = name[len("LEGATO_"):].lower()
        if key not in SIMPLE or key in from_env or not value:
            return None  # another setting, the same one twice, or an empty value
        from_env[key] = value
    root = find_project_root()
    from_file: dict[str, object] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            with pyproject.open("rb") as handle:
                table = tomllib.load(handle).get("tool", {}).get("legato", {})
        except (OSError, ValueError, AttributeError):
            return None  # load_settings() words the error
        if not isinstance(table, dict):
            return None
        from_file = table
    chosen = {**from_file, **from_env}  # the environment wins, as in Settings
    if not set(chosen) <= SIMPLE or not all(isinstance(v, str) and v for v in chosen.values()):
        return None
    values = {key: str(value) for key, value in chosen.items()}
    if values.get("durability", "normal") not in ("normal", "full"):
        return None
    return QuickSettings(
        root=root,
        definitions=values.get("definitions"),
        home=Path(values["home"]) if "home" in values else Path(".legato"),
        database_url=values.get("database_url"),
        durability=values.get("durability", "normal"),
    )


def read_settings() -> QuickSettings | Settings:
    """The settings a listing command needs: read quickly when they are simple, else
    loaded and validated in full."""
    found = quick_settings()
    if found is not None:
        return found
    from legato.settings import load_settings

    return load_settings()
