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
            for placeholder, value in {"name": name, **_legato_requirement()}.items():
                text = text.replace("{{" + placeholder + "}}", value)
            (target / filename).write_text(text)
    except OSError as error:
        raise CommandLineError(f"cannot create the project in {target}: {error.strerror}",
                               hint="choose a folder you can write to") from None
    typer.echo(f"created {name} in {target}: {', '.join(TEMPLATES)}")
    where = "" if target == Path.cwd().resolve() else f"cd {directory} && "
    typer.echo(f"next: {where}legato materialize && legato run hello --param name=you")


def _legato_requirement() -> dict[str, str]:
    """How the new project's pyproject.toml asks for legato: from where this legato was
    installed (a checkout or a Git URL, so that ``pip install -e .`` resolves it), else by
    name from the package index."""
    import json
    from importlib import metadata

    try:
        direct = metadata.distribution("legato").read_text("direct_url.json")
        origin = json.loads(direct) if direct else {}
    except (metadata.PackageNotFoundError, ValueError):
        origin = {}
    url = origin.get("url", "")
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict) and url:
        commit = f"@{vcs['commit_id']}" if vcs.get("commit_id") else ""
        return {"legato_requirement": f"legato @ {vcs.get('vcs', 'git')}+{url}{commit}",
                "legato_comment": "# legato as installed here, from its repository; "
                "use \"legato\" once it is on your package index\n"}
    if url.startswith("file:"):
        return {"legato_requirement": f"legato @ {url}",
                "legato_comment": "# legato from the checkout it was installed from (a local "
                "path: change it to a Git URL or \"legato\" to share the project)\n"}
    return {"legato_requirement": "legato", "legato_comment": ""}


def _project_name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.name).strip("-._").lower()
    return name or "pipelines"
