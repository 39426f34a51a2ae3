"""legato: an orchestrator for data and AI pipelines.

The authoring API is everything importable from here; nothing else is promised::

    import legato as lg

    @lg.asset(retries=lg.Retry(3))
    def events(): ...

Importing legato loads neither SQLAlchemy nor pydantic: they load when a run starts.
"""

import importlib as _importlib
import typing as _typing

from legato import cache as cache
from legato.definitions.asset import AssetDefinition as AssetDefinition
from legato.definitions.asset import asset as asset
from legato.definitions.definitions import Definitions as Definitions
from legato.definitions.flow import FlowDefinition as FlowDefinition
from legato.definitions.flow import flow as flow
from legato.definitions.options import Retry as Retry
from legato.definitions.options import last_good as last_good
from legato.definitions.task import StepFuture as StepFuture
from legato.definitions.task import TaskDefinition as TaskDefinition
from legato.definitions.task import task as task
from legato.engine.context import StepContext as StepContext
from legato.errors import DefinitionError as DefinitionError
from legato.errors import LeaseLost as LeaseLost
from legato.errors import LegatoError as LegatoError
from legato.errors import NonDeterminismError as NonDeterminismError
from legato.errors import ParamsError as ParamsError
from legato.errors import PartitionError as PartitionError
from legato.errors import RunCanceled as RunCanceled
from legato.errors import RunInProgressError as RunInProgressError
from legato.errors import RunNotFoundError as RunNotFoundError
from legato.errors import SchemaVersionError as SchemaVersionError
from legato.errors import SelectionError as SelectionError
from legato.errors import SettingsError as SettingsError
from legato.errors import StepFailed as StepFailed
from legato.errors import StoreError as StoreError
from legato.errors import UnstorableError as UnstorableError
from legato.errors import ValueStoreError as ValueStoreError

if _typing.TYPE_CHECKING:
    from legato.api import load, materialize, resume, run, trigger
    from legato.definitions.schedule import ScheduleDefinition, schedule
    from legato.engine.results import RunResult, StepResult
    from legato.scheduler.asset_events import AssetTriggerDefinition, on_materialized
    from legato.scheduler.mapping import (
        AllPartitionsMapping,
        SameKeyMapping,
        TimeWindowMapping,
    )
    from legato.scheduler.partitions import StaticPartitions
    from legato.scheduler.sensor import RunRequest, SensorContext, SensorDefinition, sensor
    from legato.scheduler.spec import ScheduleSpec, cron, every
    from legato.scheduler.time_partitions import (
        DailyPartitions,
        HourlyPartitions,
        MonthlyPartitions,
        WeeklyPartitions,
    )
    from legato.settings import Settings

__version__ = "0.1.0.dev0"

_LAZY = {
    "run": "legato.api",
    "materialize": "legato.api",
    "load": "legato.api",
    "resume": "legato.api",
    "trigger": "legato.api",
    "RunResult": "legato.engine.results",
    "StepResult": "legato.engine.results",
    "Settings": "legato.settings",
    # schedules and partitions: their modules load when first used
    "cron": "legato.scheduler.spec",
    "every": "legato.scheduler.spec",
    "ScheduleSpec": "legato.scheduler.spec",
    "schedule": "legato.definitions.schedule",
    "ScheduleDefinition": "legato.definitions.schedule",
    "HourlyPartitions": "legato.scheduler.time_partitions",
    "DailyPartitions": "legato.scheduler.time_partitions",
    "WeeklyPartitions": "legato.scheduler.time_partitions",
    "MonthlyPartitions": "legato.scheduler.time_partitions",
    "StaticPartitions": "legato.scheduler.partitions",
    "TimeWindowMapping": "legato.scheduler.mapping",
    "SameKeyMapping": "legato.scheduler.mapping",
    "AllPartitionsMapping": "legato.scheduler.mapping",
    # sensors and asset-event triggers
    "sensor": "legato.scheduler.sensor",
    "SensorDefinition": "legato.scheduler.sensor",
    "SensorContext": "legato.scheduler.sensor",
    "RunRequest": "legato.scheduler.sensor",
    "on_materialized": "legato.scheduler.asset_events",
    "AssetTriggerDefinition": "legato.scheduler.asset_events",
}


def __getattr__(name: str) -> _typing.Any:
    """Names whose modules need SQLAlchemy or pydantic load on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'legato' has no attribute {name!r}")
    return getattr(_importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AllPartitionsMapping",
    "AssetDefinition",
    "AssetTriggerDefinition",
    "DailyPartitions",
    "DefinitionError",
    "Definitions",
    "FlowDefinition",
    "HourlyPartitions",
    "LeaseLost",
    "LegatoError",
    "MonthlyPartitions",
    "NonDeterminismError",
    "ParamsError",
    "PartitionError",
    "Retry",
    "RunCanceled",
    "RunInProgressError",
    "RunNotFoundError",
    "RunRequest",
    "RunResult",
    "SameKeyMapping",
    "ScheduleDefinition",
    "ScheduleSpec",
    "SchemaVersionError",
    "SelectionError",
    "SensorContext",
    "SensorDefinition",
    "Settings",
    "SettingsError",
    "StaticPartitions",
    "StepContext",
    "StepFailed",
    "StepFuture",
    "StepResult",
    "StoreError",
    "TaskDefinition",
    "TimeWindowMapping",
    "UnstorableError",
    "ValueStoreError",
    "WeeklyPartitions",
    "__version__",
    "asset",
    "cache",
    "cron",
    "every",
    "flow",
    "last_good",
    "load",
    "materialize",
    "on_materialized",
    "resume",
    "run",
    "schedule",
    "sensor",
    "task",
    "trigger",
]
