"""Pick an executor by name."""

from __future__ import annotations

from legato.errors import SettingsError
from legato.executors.base import Executor


def make_executor(name: str, max_parallel: int) -> Executor:
    if name == "threads":
        from legato.executors.threads import ThreadsExecutor

        return ThreadsExecutor(max_parallel)
    if name == "inline":
        from legato.executors.threads import InlineExecutor

        return InlineExecutor(max_parallel)
    if name == "processes":
        from legato.executors.processes import ProcessesExecutor

        return ProcessesExecutor(max_parallel)
    raise SettingsError(
        f"unknown executor {name!r}", hint="choose one of: inline, threads, processes"
    )
