"""docs/cli.md is generated from the code, and documents every command."""

from __future__ import annotations

import typer.main
from typer._click import Context

from legato.cli import reference
from legato.cli.errors import ExitCode
from legato.cli.main import app


def test_docs_cli_md_is_up_to_date() -> None:
    assert reference.DOCS_PATH.is_file(), (
        f"{reference.DOCS_PATH} is missing; generate it with: {reference.REGENERATE}")
    assert reference.DOCS_PATH.read_text() == reference.render(), (
        f"{reference.DOCS_PATH} is out of date; regenerate it with: {reference.REGENERATE}")


def test_every_command_and_option_is_documented() -> None:
    text = reference.DOCS_PATH.read_text()
    root = typer.main.get_command(app)
    ctx = Context(root, info_name="legato")
    names = root.list_commands(ctx)  # type: ignore[attr-defined]
    assert {"init", "run", "materialize", "runs", "show", "logs", "assets"} <= set(names)
    for name in names:
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        assert f"\n## legato {name}\n" in text, (
            f"command '{name}' is not in docs/cli.md; regenerate it with: "
            f"{reference.REGENERATE}")
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("-") and opt != "--help":
                    assert opt in text, f"option {opt} of '{name}' is not documented"
    for code in ExitCode:
        assert f"\n| {int(code)} | " in text, f"exit code {int(code)} is not documented"


def test_check_mode(capsys) -> None:  # type: ignore[no-untyped-def]
    assert reference.main(["--check"]) == 0
    assert reference.main([]) == 0
    assert capsys.readouterr().out == reference.render()
