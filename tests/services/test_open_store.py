"""A long-lived process (the REST API to come) opens the store once and passes it to every
service call, which uses it as it is and leaves it open; the same calls with settings open
and close a store of their own."""

from __future__ import annotations

from legato.definitions.definitions import Definitions
from legato.services import assets, backfills, execution, queue, runs, steps, triggers
from legato.settings import Settings
from legato.store.reader import SqliteReader
from legato.store.sql_store import SqlStore


def test_services_use_an_open_store_and_leave_it_open(on_backend: Settings,
                                                      defs: Definitions) -> None:
    done = execution.run_flow(on_backend, defs.flows["adder"], {"a": 1})
    with SqlStore(on_backend.store_url) as store:
        for _ in range(2):  # still open after each call
            assert [r.run_id for r in runs.list_runs(store)] == [done.run_id]
            assert runs.show_run(store, done.run_id).run == runs.get_run(on_backend, "last")
            assert steps.run_logs(store, "last").attempts[0].status == "succeeded"
            assert assets.list_assets(store, defs)[0].latest_materialization is None
            assert queue.queued_runs(store) == []
            assert backfills.list_backfills(store) == []
            assert not triggers.list_triggers(store, defs)[0].paused
        assert store.get_run(done.run_id).status == "succeeded"


def test_the_light_reader_serves_reads_too(settings: Settings, defs: Definitions) -> None:
    done = execution.run_flow(settings, defs.flows["adder"], {})
    reader = SqliteReader.open(settings.store_url)
    assert reader is not None
    try:
        assert runs.show_run(reader, "last").run.run_id == done.run_id
        assert runs.find_by_idempotency_key(reader, "none") is None
    finally:
        reader.close()
