"""Asset-event triggers on their own: ``lg.on_materialized``'s checks, ``any`` and ``all``,
the cursor, and tick keys derived from the triggering materializations."""

from __future__ import annotations

import datetime as dt

import pytest

import legato as lg
from legato.scheduler.asset_events import event_key, read_cursor
from legato.scheduler.timezones import UTC

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@lg.asset
def orders() -> int:
    return 1


@lg.flow
def report(day: str = "") -> str:
    return day


def test_authoring() -> None:
    by_flow = lg.on_materialized(orders, "customers", run=report, mode="all",
                                 params={"day": "today"})
    assert isinstance(by_flow, lg.AssetTriggerDefinition)
    assert (by_flow.name, by_flow.trigger_key) == ("report", "asset_trigger:report")
    assert (by_flow.upstream, by_flow.mode, by_flow.flow) == (("orders", "customers"), "all",
                                                              "report")
    assert by_flow.describe() == "when all of orders, customers materialized"
    by_assets = lg.on_materialized("orders", run=["features", "model*"], name="refresh")
    assert (by_assets.flow, by_assets.selection) == (None, ("features", "model*"))
    assert repr(by_assets) == ("<asset trigger refresh: assets features, model*, when orders "
                               "materializes>")


@pytest.mark.parametrize(("args", "options", "message"), [
    ((), {"run": report}, "name the upstream assets"),
    (("orders",), {"run": report, "mode": "some"}, "mode must be 'any' or 'all'"),
    (("orders",), {"run": "features"}, "a trigger of assets needs a name"),
    (("*orders",), {"run": report}, "the upstream are asset keys, not selection patterns"),
    (("orders",), {"run": 5, "name": "x"}, "names assets"),
    ((3,), {"run": report}, "the upstream names assets"),
])
def test_mistakes_are_definition_errors(args: tuple[object, ...], options: dict[str, object],
                                        message: str) -> None:
    with pytest.raises(lg.DefinitionError, match=r"lg\.on_materialized") as raised:
        lg.on_materialized(*args, **options)  # type: ignore[arg-type]
    assert message in str(raised.value)
    assert "test_asset_events.py" in str(raised.value)  # the line that wrote it


def test_the_first_evaluation_records_what_exists() -> None:
    trigger = lg.on_materialized("orders", run=report)
    first = trigger.evaluate(None, NOW, materializations={"orders": "m1"})
    assert first.run_requests == ()
    assert read_cursor(first.cursor or "") == {"orders": "m1"}
    assert trigger.evaluate(first.cursor, NOW, materializations={"orders": "m1"}
                            ).run_requests == ()
    assert trigger.evaluate(first.cursor, NOW).cursor == first.cursor  # nothing known


def test_any_and_all() -> None:
    any_of = lg.on_materialized("a", "b", run=report, name="any_of")
    all_of = lg.on_materialized("a", "b", run=report, mode="all", name="all_of")
    start = '{"a":"a1","b":null}'
    only_a = {"a": "a2"}
    fired = any_of.evaluate(start, NOW, materializations=only_a)
    [request] = fired.run_requests
    assert request.tick_key == event_key({"a": "a2"})
    assert read_cursor(fired.cursor or "") == {"a": "a2", "b": None}
    waiting = all_of.evaluate(start, NOW, materializations=only_a)
    assert waiting.run_requests == () and waiting.cursor == start  # b has not come yet
    both = all_of.evaluate(start, NOW, materializations={"a": "a2", "b": "b1"})
    assert both.run_requests[0].tick_key == event_key({"a": "a2", "b": "b1"})
    assert all_of.evaluate(both.cursor, NOW, materializations={"a": "a3", "b": "b1"}
                           ).run_requests == ()


def test_tick_keys_come_from_the_materializations() -> None:
    assert event_key({"a": "1", "b": "2"}) == event_key({"b": "2", "a": "1"})
    assert event_key({"a": "1"}) != event_key({"a": "2"})
    assert len(event_key({"a": "x" * 600})) < 40
