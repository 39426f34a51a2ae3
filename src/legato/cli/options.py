"""Options shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

ModuleOption = Annotated[
    str | None,
    typer.Option(
        "--module", "-m", metavar="PKG.MOD",
        help="Load the definitions from this module instead of a file.",
    ),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", metavar="KEY=VALUE",
        help="A run parameter; repeat for several. Typed by the flow's annotations "
        "(int, float, bool, str), otherwise read as JSON, otherwise kept as a string.",
    ),
]
ExecutorOption = Annotated[
    str | None,
    typer.Option(
        "--executor", "-e", metavar="NAME",
        help="Where step bodies run: inline, threads, processes, an installed executor or "
        "package.module:Factory (default: the executor setting, else threads).",
    ),
]
MaxParallelOption = Annotated[
    int | None,
    typer.Option(
        "--max-parallel", "-j", min=1, metavar="N",
        help="Most steps running at once (default: the max_parallel setting).",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print plain JSON instead of tables.")
]
FileArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="FILE.py", show_default=False,
        help="The definitions file. Without it: -m MODULE, else the definitions setting.",
    ),
]
RunArgument = Annotated[
    str,
    typer.Argument(metavar="RUN", help="A run id, a unique prefix of one, or 'last'.",
                   show_default=False),
]

SlotsOption = Annotated[
    int | None,
    typer.Option("--slots", "-s", min=1, metavar="N",
                 help="Runs executed at once (default: the worker_slots setting, else 4)."),
]

GraceOption = Annotated[
    float,
    typer.Option("--grace", min=0, metavar="SECONDS",
                 help="On SIGTERM or Ctrl-C, how long the runs under way may take to finish "
                 "before they are released to other workers."),
]
