"""Executors found by name, entry point or import path, each with its own settings; a
step's ``executor=`` overriding the run's; and what is said when one cannot be had."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.executors.plugin_kit import MODULE, install_plugin

import legato as lg
from legato.errors import DefinitionError, SettingsError
from legato.executors.base import BodyCall, Capabilities
from legato.executors.registry import executor_names, find_factory, make_executor
from legato.executors.threads import InlineExecutor, ThreadsExecutor
from legato.settings import load_settings


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    return install_plugin(tmp_path / "site", monkeypatch)


def plugin_bodies(plugin: Any) -> list[tuple[str, str, int]]:
    """(executor label, function name, process id) of each body the plugin ran."""
    return list(plugin.BODIES)


@lg.task
def where() -> int:
    return os.getpid()


@lg.task(executor="processes")
def where_isolated() -> int:
    return os.getpid()


@lg.flow
def two_places() -> dict[str, int]:
    return {"here": where(), "isolated": where_isolated()}


def test_built_in_executors_declare_what_they_do() -> None:
    flags = {name: find_factory(name).capabilities for name in ("inline", "threads",
                                                                 "processes")}
    assert flags["inline"] == Capabilities(in_caller_thread=True)
    assert flags["threads"] == Capabilities()
    assert flags["processes"] == Capabilities(isolates_deaths=True, kills_on_timeout=True,
                                              needs_pickling=True)


def test_an_executor_is_found_by_its_entry_point_with_its_own_settings(plugin: Any) -> None:
    assert "counted" in executor_names()
    executor = make_executor("counted", 2, {"counted": {"label": "from-settings"}})
    try:
        assert executor.name == "counted"
        result = executor.run_body(BodyCall(fn=lambda: 7, args=(), kwargs={},
                                            is_async=False, timeout=None))
        assert result.ok and result.value == 7
        assert plugin_bodies(plugin) == [("from-settings", "<lambda>", os.getpid())]
    finally:
        executor.close()


def test_a_run_uses_an_executor_named_by_import_path(plugin: Any, make_settings: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGATO_EXECUTORS__COUNTEDEXECUTOR__LABEL", "from-env")
    settings = load_settings(home=make_settings().home,
                             executor=f"{MODULE}:CountedExecutor")
    assert settings.executors == {"countedexecutor": {"label": "from-env"}}
    result = lg.run(two_places, settings=settings)
    assert result.ok, result.error
    # the step without executor= ran in the run's executor; the other in a process
    assert plugin_bodies(plugin) == [("from-env", "where", os.getpid())]
    assert result.output["here"] == os.getpid()
    assert result.output["isolated"] != os.getpid()


def test_a_step_executor_option_overrides_the_run_default(plugin: Any,
                                                          make_settings: Any) -> None:
    @lg.asset(executor="counted")
    def counted_asset() -> int:
        return 1

    @lg.asset
    def plain_asset(counted_asset: int) -> int:
        return counted_asset + 1

    result = lg.materialize([counted_asset, plain_asset],
                            settings=make_settings(executor="inline"))
    assert result.ok, result.error
    assert result.value("plain_asset") == 2
    assert [body[:2] for body in plugin_bodies(plugin)] == [("counted", "counted_asset")]


def test_a_remote_executor_s_bodies_are_submitted_and_isolated(
        plugin: Any, make_settings: Any, read_store: Any) -> None:
    settings = make_settings(executor=f"{MODULE}:FarExecutor")
    result = lg.run(where, settings=settings)
    assert result.ok, result.error
    assert plugin.FarExecutor.SUBMITTED == ["where"]
    started = [e for e in read_store(settings).get_events(result.run_id)
               if e.kind == "step_started"]
    assert [e.data.get("isolated") for e in started] == [True]  # its death is not ours


def test_submit_body_returns_a_future_for_every_built_in_executor() -> None:
    call = BodyCall(fn=pow, args=(2, 10), kwargs={}, is_async=False, timeout=None)
    for executor in (InlineExecutor(), ThreadsExecutor(2)):
        try:
            assert executor.submit_body(call).result(10).value == 1024
        finally:
            executor.close()
    processes = make_executor("processes", 1)
    try:
        future = processes.submit_body(call)
        assert future.result(30).value == 1024
    finally:
        processes.close()


# -- what is said when an executor cannot be had ----------------------------------------


def test_an_unknown_step_executor_is_refused_at_definition_with_a_guess() -> None:
    with pytest.raises(DefinitionError) as caught:
        @lg.task(executor="thread")
        def misspelt() -> None: ...
    assert "unknown executor 'thread' (did you mean 'threads'?)" in str(caught.value)
    assert "inline, threads, processes" in str(caught.value)


def test_an_unknown_run_executor_is_refused_with_the_settings_naming_what_exists(
        plugin: Any, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGATO_EXECUTOR", "countd")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "LEGATO_EXECUTOR / [tool.legato] executor" in str(caught.value)
    assert "did you mean 'counted'?" in str(caught.value)
    assert "known: inline, threads, processes, counted" in str(caught.value)


def test_an_executor_that_went_away_is_refused_when_the_run_starts(
        plugin: Any, make_settings: Any) -> None:
    settings = make_settings(executor="counted")
    for info in Path(plugin.__file__).parent.glob("*.dist-info"):  # uninstalled meanwhile
        shutil.rmtree(info)
    importlib.invalidate_caches()
    with pytest.raises(SettingsError, match="unknown executor 'counted'"):
        lg.run(two_places, settings=settings)


@pytest.mark.parametrize(("path", "says"), [
    ("no_such_module_here:Factory", "importing 'no_such_module_here' failed: "
                                    "ModuleNotFoundError"),
    (f"{MODULE}:Missing", f"module '{MODULE}' has no 'Missing'"),
    (f"{MODULE}:", "no factory named after ':'"),
    (f"{MODULE}:TICKS", "is not callable"),
])
def test_a_bad_import_path_says_what_is_wrong(plugin: Any, path: str, says: str) -> None:
    with pytest.raises(SettingsError, match="cannot load executor") as caught:
        make_executor(path, 1)
    assert says in str(caught.value)


def test_an_import_path_on_a_step_fails_the_materialization_before_it_starts(
        make_settings: Any, read_store: Any) -> None:
    @lg.asset(executor="no_such_module_here:Factory")
    def elsewhere() -> int:
        return 1

    settings = make_settings()
    with pytest.raises(SettingsError, match="importing 'no_such_module_here' failed"):
        lg.materialize([elsewhere], settings=settings)
    assert read_store(settings).list_runs() == []


def test_bad_executor_settings_are_refused_by_the_executor_s_own_class(plugin: Any) -> None:
    with pytest.raises(SettingsError) as caught:
        make_executor("counted", 1, {"counted": {"limit": "lots", "colour": "red"}})
    text = str(caught.value)
    assert "bad settings for executor 'counted'" in text
    assert "[tool.legato.executors.counted] / LEGATO_EXECUTORS__COUNTED__*" in text
    assert "limit" in text and "colour" in text


def test_settings_for_an_executor_that_takes_none_are_refused(plugin: Any) -> None:
    with pytest.raises(SettingsError, match=r"executor '.*:plain' takes no settings, but "
                       r"\[tool.legato.executors.plain\].* sets label"):
        make_executor(f"{MODULE}:plain", 1, {"plain": {"label": "x"}})


def test_executor_settings_come_from_pyproject(plugin: Any, project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.legato]\nexecutor = "counted"\n\n[tool.legato.executors.counted]\n'
        'label = "from-pyproject"\n\n[tool.legato.executors.dask]\n'
        'address = "tcp://scheduler:8786"\n')
    settings = load_settings()
    assert settings.executor == "counted"
    assert settings.executors == {"counted": {"label": "from-pyproject"},
                                  "dask": {"address": "tcp://scheduler:8786"}}
