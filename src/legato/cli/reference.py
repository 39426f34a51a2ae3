"""Generate the CLI reference (docs/cli.md) from the command tree itself.

    python -m legato.cli.reference             # print it
    python -m legato.cli.reference --write     # write docs/cli.md
    python -m legato.cli.reference --check     # exit 1 when docs/cli.md is out of date

Each command's usage, help text, arguments and options come from the click command that
typer builds; the rule for finding definitions and the exit codes come from the modules
that implement them. tests/cli/test_reference.py fails when docs/cli.md is out of date.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import typer.main
from typer._click import Context

from legato.cli import locate
from legato.cli.errors import EXIT_CODE_MEANINGS
from legato.cli.main import app

DOCS_PATH = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
REGENERATE = "python -m legato.cli.reference --write"


def render() -> str:
    """The whole reference page, as Markdown."""
    root: Any = typer.main.get_command(app)
    root_ctx = Context(root, info_name="legato")
    out = [
        "# CLI reference",
        "",
        f"<!-- Generated from the code by `{REGENERATE}`; do not edit by hand. -->",
        "",
        "Every command that lists something (`runs`, `show`, `logs`, `assets`, `schedules`, "
        "`backfills`) "
        "takes "
        "`--json` and then prints plain JSON: the services' views, documented field by "
        "field in [the views reference](reference/views.md). "
        "Errors print one line, `error: <message>`, and often a `hint:` line, on stderr; "
        "`legato --debug <command>` adds the traceback.",
        "",
        "Commands: " + ", ".join(f"[`{name}`](#legato-{name})"
                                 for name in root.list_commands(root_ctx)) + ".",
        "",
    ]
    out += _command(root, root_ctx, level="##")
    out += ["## Finding the definitions", "", *_prose(locate.__doc__ or ""), ""]
    for name in root.list_commands(root_ctx):
        command = root.get_command(root_ctx, name)
        ctx = Context(command, info_name=name, parent=root_ctx)
        out += _command(command, ctx, level="##")
        for sub in getattr(command, "list_commands", lambda _ctx: [])(ctx):
            subcommand = command.get_command(ctx, sub)
            out += _command(subcommand, Context(subcommand, info_name=sub, parent=ctx),
                            level="###")
    out += ["## Exit codes", "", "| Code | Meaning |", "| ---: | --- |"]
    out += [f"| {int(code)} | {_cell(meaning)} |" for code, meaning in EXIT_CODE_MEANINGS.items()]
    return "\n".join(out).rstrip() + "\n"


def _command(command: Any, ctx: Context, *, level: str) -> list[str]:
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    out = [f"{level} {ctx.command_path}", "", "```", f"Usage: {usage}", "```", ""]
    help_text = inspect.cleandoc(command.help or "").partition("\f")[0]
    if help_text:
        out += [help_text, ""]
    params = [p for p in command.get_params(ctx) if not p.hidden and p.name != "help"]
    for kind, title in (("argument", "Arguments"), ("option", "Options")):
        rows = [p.get_help_record(ctx) for p in params if p.param_type_name == kind]
        rows = [row for row in rows if row is not None]
        if rows:
            out += [f"**{title}**", "", f"| {title[:-1]} | Description |", "| --- | --- |"]
            out += [f"| `{_cell(name)}` | {_cell(text)} |" for name, text in rows]
            out.append("")
    return out


def _prose(docstring: str) -> list[str]:
    """A module docstring as Markdown (its ``literals`` become `code`)."""
    return inspect.cleandoc(docstring).replace("``", "`").splitlines()


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = DOCS_PATH.read_text() if DOCS_PATH.is_file() else ""
        if current != text:
            print(f"{DOCS_PATH} is out of date; regenerate it with: {REGENERATE}",
                  file=sys.stderr)
            return 1
        return 0
    if "--write" in args:
        DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOCS_PATH.write_text(text)
        print(f"wrote {DOCS_PATH}")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
