"""The public names of ``legato``: pinned, so that any change to the API shows in review.

Only ``import legato as lg`` is used here: this folder tests what users are promised.
"""

from __future__ import annotations

import pickle
import types

import legato as lg

PUBLIC_NAMES = [
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


def test_public_names_are_pinned() -> None:
    """Changing this list is changing the API: add to the CHANGELOG as well."""
    assert lg.__all__ == PUBLIC_NAMES


def test_public_names_are_sorted_and_unique() -> None:
    assert lg.__all__ == sorted(set(lg.__all__))


def test_every_public_name_resolves() -> None:
    for name in lg.__all__:
        assert getattr(lg, name) is not None, name


def test_every_public_name_is_in_dir() -> None:
    assert set(lg.__all__) <= set(dir(lg))


def test_nothing_else_looks_public() -> None:
    """Apart from subpackages, every name without an underscore is in ``__all__``."""
    extra = {
        name
        for name in dir(lg)
        if not name.startswith("_")
        and name not in lg.__all__
        and not isinstance(getattr(lg, name), types.ModuleType)
    }
    assert extra == set()


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        lg.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("lg.no_such_thing should not exist")


def test_errors_share_one_root() -> None:
    suffixes = ("Error", "Failed", "Canceled", "Lost")
    errors = [getattr(lg, name) for name in lg.__all__ if name.endswith(suffixes)]
    assert len(errors) == 16
    for error in errors:
        assert issubclass(error, lg.LegatoError), error
    assert issubclass(lg.SchemaVersionError, lg.StoreError)
    assert issubclass(lg.LeaseLost, lg.StoreError)
    assert issubclass(lg.UnstorableError, lg.StoreError)


def test_version_is_a_string() -> None:
    assert isinstance(lg.__version__, str)
    assert lg.__version__[0].isdigit()


def test_cache_policies_are_public() -> None:
    assert lg.cache.by_inputs.within("1h").expires_after == 3600
    assert sorted(lg.cache.__all__) == ["CachePolicy", "by_inputs", "by_key", "file_digest"]


def test_errors_survive_pickling() -> None:
    """Errors cross process boundaries (the processes executor) and must arrive whole."""
    errors = [
        lg.DefinitionError("asset 'x' is wrong", hint="fix it"),
        lg.StepFailed("fetch[3]", "ValueError: bad"),
        lg.SelectionError("no asset named 'y'"),
        lg.SchemaVersionError("newer schema", hint="upgrade legato"),
        lg.RunCanceled("canceled by the user"),
        lg.NonDeterminismError("flow 'f' changed", call_site="f.py:3", hint="restart it"),
        lg.LeaseLost("run r was taken over"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert copy.hint == error.hint
    step_failed = pickle.loads(pickle.dumps(errors[1]))
    assert (step_failed.step_key, step_failed.error) == ("fetch[3]", "ValueError: bad")
