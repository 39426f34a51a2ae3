"""Every process that loads definitions to write runs records their catalog: ``legato run``
and ``legato materialize``, ``lg.run`` and ``lg.materialize``, ``lg.trigger``, a worker and
the scheduler. Another process then reads it without importing the user's module, and a
catalog that cannot be built never stops a run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import legato as lg
from legato.daemon.scheduler import Scheduler
from legato.daemon.worker import Worker
from legato.definitions.catalog import current_catalog
from legato.settings import Settings
from legato.store.sql_store import SqlStore

LEGATO = [sys.executable, "-m", "legato.cli.main"]

PROJECT = '''
import legato as lg

@lg.asset(owner="ana")
def raw() -> int:
    return 1

@lg.asset
def total(raw: int) -> int:
    return raw + 1

@lg.task
def one() -> int:
    return 1

@lg.flow
def hello(n: int = 2) -> int:
    return one() + n

@lg.flow(schedule=lg.cron("0 3 * * *", tz="Europe/Berlin"))
def nightly(ds: str) -> None:
    return None
'''

READER = '''
import datetime as dt, json, sys
from pathlib import Path
from legato.definitions.catalog import current_catalog, next_ticks
from legato.store.reader import open_reader

with open_reader(sys.argv[1]) as reader:  # a process that never imports the project
    catalog = current_catalog(reader)
nightly = catalog.triggers["schedule:nightly"]
tick = next_ticks(nightly, dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc))[0]
project = Path(sys.argv[2]).resolve()
user = sorted(name for name, module in sys.modules.items()
              if str(getattr(module, "__file__", None) or "").startswith(str(project)))
print(json.dumps({"assets": sorted(catalog.assets), "flows": sorted(catalog.flows),
                  "owner": catalog.assets["raw"].owner, "tick": tick.isoformat(),
                  "locations": list(catalog.locations), "user_modules": user,
                  "sqlalchemy": "sqlalchemy" in sys.modules}))
'''


def _cli(project: Path, *args: str) -> None:
    subprocess.run([*LEGATO, *args], cwd=project, check=True, capture_output=True, text=True,
                   timeout=120)


def _read_elsewhere(project: Path, url: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", READER, url, str(project)], cwd=project.parent,
                         check=True, capture_output=True, text=True, timeout=120)
    return dict(json.loads(out.stdout))


@pytest.mark.parametrize("command", [["run", "pipelines.py", "hello"],
                                     ["materialize", "pipelines.py", "*total"]])
def test_the_cli_records_the_catalog_another_process_reads_without_the_module(
        project: Path, command: list[str]) -> None:
    (project / "pipelines.py").write_text(PROJECT)
    _cli(project, *command)
    url = f"sqlite:///{project / '.legato' / 'legato.db'}"
    found = _read_elsewhere(project, url)
    assert found == {
        "assets": ["raw", "total"], "flows": ["hello", "nightly"], "owner": "ana",
        "tick": "2026-07-01T01:00:00+00:00",  # 03:00 in Berlin, summer time
        "locations": [f"file:{(project / 'pipelines.py').resolve()}"],
        "user_modules": [], "sqlalchemy": False}


def test_a_run_of_unchanged_definitions_writes_no_snapshot(project: Path) -> None:
    (project / "pipelines.py").write_text(PROJECT)
    _cli(project, "run", "pipelines.py", "hello")
    url = f"sqlite:///{project / '.legato' / 'legato.db'}"
    with SqlStore(url) as store:
        [first] = store.current_catalogs()
    _cli(project, "run", "pipelines.py", "hello", "--param", "n=3")
    with SqlStore(url) as store:
        assert store.current_catalogs() == [first]  # recorded_at too: nothing was written
    (project / "pipelines.py").write_text(PROJECT.replace('owner="ana"', 'owner="bo"'))
    _cli(project, "run", "pipelines.py", "hello")
    with SqlStore(url) as store:
        [now] = store.current_catalogs()
        catalog = current_catalog(store)
    assert now.snapshot_hash != first.snapshot_hash
    assert catalog is not None and catalog.assets["raw"].owner == "bo"


def _module(project: Path, name: str = "etl") -> Any:
    (project / f"{name}.py").write_text(PROJECT)
    sys.path.insert(0, str(project))
    import importlib

    return importlib.import_module(name)


def test_the_python_run_functions_record_the_module_of_what_they_run(
        user_code: Path, settings: Settings) -> None:
    etl = _module(user_code)
    assert lg.run(etl.hello, settings=settings).status == "succeeded"
    with SqlStore(settings.store_url) as store:
        catalog = current_catalog(store, "module:etl")
        assert catalog is not None and sorted(catalog.flows) == ["hello", "nightly"]
        assert sorted(catalog.assets) == ["raw", "total"]  # the module's, not only the flow
        assert lg.materialize([etl.raw], settings=settings).status == "succeeded"
        again = current_catalog(store, "module:etl")
        assert again is not None and again.digest == catalog.digest  # the whole module still


def test_definitions_built_in_code_are_recorded_as_given(settings: Settings) -> None:
    @lg.asset
    def alone() -> int:
        return 1

    defs = lg.Definitions(assets=[alone])
    assert lg.materialize(defs, settings=settings).status == "succeeded"
    with SqlStore(settings.store_url) as store:
        [row] = store.current_catalogs()
        catalog = current_catalog(store)
    assert row.location.startswith("module:") and catalog is not None
    assert list(catalog.assets) == ["alone"]


def test_a_catalog_that_cannot_be_built_never_stops_a_run(
        settings: Settings, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from legato.definitions import recording

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("an unforeseen definition")

    monkeypatch.setattr(recording, "snapshot_json", broken)

    @lg.asset
    def fine() -> int:
        return 1

    result = lg.materialize(lg.Definitions(assets=[fine], source="module:somewhere"),
                            settings=settings)
    assert result.status == "succeeded"
    assert "catalog of module:somewhere was not recorded: RuntimeError" in caplog.text
    with SqlStore(settings.store_url) as store:
        assert store.current_catalogs() == []


def test_a_worker_and_the_scheduler_record_their_definitions(user_code: Path,
                                                             settings: Settings) -> None:
    (user_code / "pipelines.py").write_text(PROJECT)
    defs = lg.load(str(user_code / "pipelines.py"))
    with Scheduler(settings, defs) as scheduler:
        catalog = current_catalog(scheduler.store)
        assert catalog is not None and catalog.locations == (defs.source,)
        assert "schedule:nightly" in catalog.triggers
        scheduler.store.writer.transact(lambda cursor, _: cursor.execute(
            "DELETE FROM catalog_locations"))
    worker = Worker(settings, definitions=defs, slots=1)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"until": lambda: True})
    thread.start()
    thread.join(60)
    with SqlStore(settings.store_url) as store:
        again = current_catalog(store)
    assert again is not None and again.digest == catalog.digest


def test_a_worker_records_the_definitions_a_queued_run_came_from(user_code: Path,
                                                                 settings: Settings) -> None:
    (user_code / "pipelines.py").write_text(PROJECT)
    run_id = lg.trigger("hello", settings=Settings(home=settings.home,
                                                   definitions=str(user_code / "pipelines.py")))
    with SqlStore(settings.store_url) as store:
        store.writer.transact(lambda cursor, _: cursor.execute("DELETE FROM catalog_locations"))
        worker = Worker(settings, slots=1)  # given no definitions: it loads the run's
        deadline = time.monotonic() + 60
        thread = threading.Thread(target=worker.run, args=(threading.Event(),), kwargs={
            "until": lambda: store.get_run(run_id).status == "succeeded"
            or time.monotonic() > deadline})
        thread.start()
        thread.join(90)
        assert store.get_run(run_id).status == "succeeded"
        catalog = current_catalog(store)
    assert catalog is not None and sorted(catalog.flows) == ["hello", "nightly"]


def test_unchanged_files_are_not_read_again_for_code_versions(
        user_code: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading every function's source is what a snapshot costs (seconds for 10,000
    assets in one file): a process whose stamp (files' sizes and times) is the stored one
    builds no snapshot; a touched file builds it, writes only the new stamp when the
    snapshot is the same, and a changed function makes a new snapshot."""
    import os

    from legato.definitions.asset import AssetDefinition
    from legato.definitions.loader import load_definitions
    from legato.definitions.recording import record_definitions

    path = user_code / "pipelines.py"
    path.write_text(PROJECT)
    with SqlStore(settings.store_url) as store:
        assert record_definitions(store, load_definitions(str(path))) is True
        [first] = store.current_catalogs()
        before = current_catalog(store)
    assert before is not None

    def unread(_: Any) -> str:
        raise AssertionError("a code version was read from source")

    with monkeypatch.context() as patched, SqlStore(settings.store_url) as other:
        patched.setattr(AssetDefinition, "code_version", property(unread))
        again = load_definitions(str(path), fresh=True)  # another process, as it were
        assert record_definitions(other, again) is False
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with SqlStore(settings.store_url) as store:
        assert record_definitions(store, load_definitions(str(path), fresh=True)) is False
        assert store.current_catalogs() == [first]  # the same snapshot, since the same time
        path.write_text(PROJECT.replace("return raw + 1", "return raw + 2"))
        assert record_definitions(store, load_definitions(str(path), fresh=True)) is True
        after = current_catalog(store)
    assert after is not None and after.digest != first.snapshot_hash
    assert after.assets["total"].code_version != before.assets["total"].code_version
    assert after.assets["raw"].code_version == before.assets["raw"].code_version
