"""``legato init [DIR]``: scaffold a small project that works as it is."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from legato.cli.errors import CommandLineError

TEMPLATES = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "pipelines.py": "pipelines.py.tmpl",
    "README.md": "README.md.tmpl",
    ".gitignore": "gitignore.tmpl",
}
"""File to write -> its template in ``legato.cli.templates``."""


def init(
    directory: Annotated[
        Path,
        typer.Argument(metavar="DIR", help="Where to create the project (created if missing).",
                       file_okay=False),
    ] = Path("."),
) -> None:
    """Create a small project that works as it is.

    Writes pyproject.toml (whose tool.legato table sets definitions = "pipelines.py"),
    pipelines.py with three assets and a flow named hello, README.md and .gitignore.
    Existing files are never overwritten.

    Then: cd DIR && legato materialize && legato run hello
    """
    target = directory.resolve()
    existing = [name for name in TEMPLATES if (target / name).exists()]
    if existing:
        raise CommandLineError(
            f"{target} already has {', '.join(existing)}; legato init never overwrites files",
            hint="choose a new folder: legato init my-project",
        )
    name = _project_name(target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for filename, template in TEMPLATES.items():
            text = resources.files("legato.cli.templates").joinpath(template).read_text()
            (target / filename).write_text(text.replace("{{name}}", name))
    except OSError as error:
        raise CommandLineError(f"cannot create the project in {target}: {error.strerror}",
                               hint="choose a folder you can write to") from None
    typer.echo(f"created {name} in {target}: {', '.join(TEMPLATES)}")
    where = "" if target == Path.cwd().resolve() else f"cd {directory} && "
    typer.echo(f"next: {where}legato materialize && legato run hello --param name=you")


def _project_name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.name).strip("-._").lower()
    return name or "pipelines"
