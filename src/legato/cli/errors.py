"""Exit codes, and the one place where errors become a line for the user.

Every command runs inside ``LegatoGroup.invoke``: a ``LegatoError`` prints
``error: <message>`` (and ``hint: <hint>``) on stderr with no traceback unless ``--debug``
was given, then exits with the code of its kind.
"""

from __future__ import annotations

import traceback
from enum import IntEnum
from typing import Any

import typer
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from legato.errors import LegatoError, NonDeterminismError, StoreError, ValueStoreError


class ExitCode(IntEnum):
    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    STORE = 3
    CANCELED = 130


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success (for `run` and `materialize`: the run succeeded)",
    ExitCode.RUN_FAILED: "the run finished, and failed (a step failed, was skipped or fell "
    "back; or a resumed flow no longer matched its history)",
    ExitCode.USAGE: "bad usage, definitions, settings, parameters or asset selection; "
    "an unknown run id; a run that cannot be resumed now (its process holds its lease)",
    ExitCode.STORE: "the store cannot be opened, read or written (also a value that cannot "
    "be stored or loaded, and writes refused because another process took the run over)",
    ExitCode.CANCELED: "canceled with Ctrl-C (the run, if one had started, is recorded as "
    "canceled)",
}
"""What each exit code means; the CLI reference prints this table."""


class CommandLineError(LegatoError):
    """The command line itself is wrong (a missing flow name, a bad ``--since``...)."""


def exit_code_for(error: LegatoError) -> ExitCode:
    if isinstance(error, NonDeterminismError):
        return ExitCode.RUN_FAILED
    if isinstance(error, StoreError | ValueStoreError):
        return ExitCode.STORE
    return ExitCode.USAGE


def report_error(message: str, hint: str | None = None) -> None:
    typer.secho("error: ", fg="red", bold=True, err=True, nl=False)
    typer.echo(message, err=True)
    if hint:
        typer.secho("hint: ", fg="cyan", err=True, nl=False)
        typer.echo(hint, err=True)


class LegatoGroup(TyperGroup):
    """The ``legato`` group: runs each command inside the error boundary."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LegatoError as error:
            if ctx.params.get("debug"):
                traceback.print_exc()
            report_error(str(error), error.hint)
            raise typer.Exit(exit_code_for(error)) from None
        except UsageError as error:
            if ctx.params.get("debug"):
                traceback.print_exc()
            path = error.ctx.command_path if error.ctx is not None else "legato"
            report_error(error.format_message(), f"see '{path} --help'")
            raise typer.Exit(ExitCode.USAGE) from None
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                traceback.print_exc()
            typer.echo("canceled", err=True)
            raise typer.Exit(ExitCode.CANCELED) from None
