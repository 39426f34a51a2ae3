"""``lg.trigger``: a run queued for a worker, checked against its flow at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import legato as lg
from legato.settings import Settings
from legato.store.queue import queued_runs
from legato.store.records import RunStatus
from legato.store.sql_store import SqlStore

FLOWS = '''
import legato as lg


@lg.task
def add(a: int, b: int) -> int:
    return a + b


@lg.flow
def adder(a: int, b: int = 1) -> int:
    return add(a, b)
'''


@pytest.fixture
def defs(project: Path) -> lg.Definitions:
    (project / "flows.py").write_text(FLOWS)
    return lg.load("flows.py")


@pytest.fixture
def settings(project: Path) -> Settings:
    return Settings(home=project / ".legato")


def test_trigger_queues_a_run_with_what_a_worker_needs(project: Path, defs: lg.Definitions,
                                                        settings: Settings) -> None:
    run_id = lg.trigger(defs.flows["adder"], params={"a": 2}, priority=3, tags=["nightly"],
                        settings=settings)
    with SqlStore(settings.store_url) as store:
        run = store.get_run(run_id)
        (queued,) = queued_runs(store)
    assert queued.run_id == run_id
    assert run.status == RunStatus.QUEUED
    assert (run.kind, run.target, run.params) == ("flow", "adder", {"a": 2})
    assert run.priority == 3
    assert run.tags == ["nightly", "flow:adder"]
    assert run.source == f"file:{project / 'flows.py'}"
    assert run.started_at is None


def test_a_task_can_be_triggered_and_a_flow_found_by_name(project: Path,
                                                          defs: lg.Definitions) -> None:
    settings = Settings(home=project / ".legato", definitions="flows.py")
    by_name = lg.trigger("adder", params={"a": 1}, settings=settings)
    task = lg.trigger(defs.tasks["add"], params={"a": 1, "b": 2}, settings=settings)
    with SqlStore(settings.store_url) as store:
        assert store.get_run(by_name).target == "adder"
        assert store.get_run(by_name).source == f"file:{project / 'flows.py'}"
        assert store.get_run(task).target == "add"


def test_parameters_must_fit_the_flow_and_be_json(defs: lg.Definitions,
                                                  settings: Settings) -> None:
    adder = defs.flows["adder"]
    with pytest.raises(lg.ParamsError, match="flow 'adder' cannot take these parameters"):
        lg.trigger(adder, params={"c": 1}, settings=settings)
    with pytest.raises(lg.ParamsError, match="cannot take these parameters") as missing:
        lg.trigger(adder, settings=settings)
    assert missing.value.hint
    with pytest.raises(lg.ParamsError, match="must be JSON values") as not_json:
        lg.trigger(adder, params={"a": dt.date(2024, 5, 1)}, settings=settings)
    assert "2024-05-01" in (not_json.value.hint or "")
    with SqlStore(settings.store_url) as store:
        assert queued_runs(store) == []


def test_an_unknown_name_or_no_definitions_is_a_definition_error(project: Path,
                                                                  defs: lg.Definitions) -> None:
    with pytest.raises(lg.DefinitionError, match="no definitions are configured") as none:
        lg.trigger("adder", settings=Settings(home=project / ".legato"))
    assert "definitions" in (none.value.hint or "")
    settings = Settings(home=project / ".legato", definitions="flows.py")
    with pytest.raises(lg.DefinitionError, match="no flow named 'addr'; did you mean 'adder'"):
        lg.trigger("addr", settings=settings)


def test_an_idempotency_key_queues_one_run(defs: lg.Definitions, settings: Settings) -> None:
    adder = defs.flows["adder"]
    first = lg.trigger(adder, params={"a": 1}, idempotency_key="k1", settings=settings)
    again = lg.trigger(adder, params={"a": 1}, idempotency_key="k1", settings=settings)
    assert again == first
    with pytest.raises(lg.ParamsError, match=f"already used by run {first}, with other "
                       "parameters"):
        lg.trigger(adder, params={"a": 2}, idempotency_key="k1", settings=settings)
    with SqlStore(settings.store_url) as store:
        assert [r.run_id for r in queued_runs(store)] == [first]


def test_a_flow_a_worker_cannot_load_again_is_refused(settings: Settings) -> None:
    namespace: dict[str, object] = {"lg": lg}
    exec("@lg.flow\ndef floating():\n    return 1\n", namespace)  # no module, no file
    with pytest.raises(lg.DefinitionError, match="a worker cannot load it again"):
        lg.trigger(namespace["floating"], settings=settings)  # type: ignore[arg-type]
