"""The hook through which a task call inside a running flow reaches the engine.

Definitions do not import the engine: the engine sets ``active_flow`` while a flow's body
runs, and task calls route through it. Outside a run, a task is a plain function call.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from legato.definitions.task import StepFuture, TaskDefinition


class FlowRuntime(Protocol):
    def call(self, task: TaskDefinition[Any, Any], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any: ...

    async def call_async(self, task: TaskDefinition[Any, Any], args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> Any: ...

    def submit(self, task: TaskDefinition[Any, Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> StepFuture[Any]: ...

    def map(self, task: TaskDefinition[Any, Any], iterables: tuple[Iterable[Any], ...],
            kwargs: dict[str, Any]) -> list[StepFuture[Any]]: ...


active_flow: ContextVar[FlowRuntime | None] = ContextVar("legato_active_flow", default=None)
