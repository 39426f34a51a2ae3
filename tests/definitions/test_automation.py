"""``lg.Definitions`` with sensors and asset-event triggers: gathered by name, each checked
against its flow or assets, with a did-you-mean."""

from __future__ import annotations

import pytest

import legato as lg


@lg.asset
def orders() -> int:
    return 1


@lg.asset
def report(orders: int) -> int:
    return orders


@lg.flow
def ingest() -> None:
    pass


@lg.sensor(flow=ingest)
def files() -> None:
    pass


def test_sensors_and_asset_triggers_are_gathered() -> None:
    after = lg.on_materialized(orders, run="report", name="after")
    defs = lg.Definitions(assets=[orders, report], flows=[ingest], sensors=[files],
                          asset_triggers=[after])
    assert defs.sensors == {"files": files} and defs.asset_triggers == {"after": after}
    assert list(defs.triggers()) == ["sensor:files", "asset_trigger:after"]
    assert repr(defs) == "<Definitions 2 assets, 1 flows, 1 sensors, 1 asset triggers>"


def test_collect_finds_them_in_a_module() -> None:
    after = lg.on_materialized(orders, run=ingest)
    defs = lg.Definitions.collect([orders, report, ingest, files, after])
    assert set(defs.triggers()) == {"sensor:files", "asset_trigger:ingest"}


def test_every_problem_is_listed_with_a_did_you_mean() -> None:
    @lg.sensor(flow="ingets")
    def typo() -> None:
        pass

    @lg.sensor(selection="reprt", name="assets_typo")
    def assets_typo() -> None:
        pass

    with pytest.raises(lg.DefinitionError) as raised:
        lg.Definitions(assets=[orders, report], flows=[ingest], sensors=[typo, assets_typo, 3],
                       asset_triggers=[lg.on_materialized("ordres", run="report", name="a"),
                                       lg.on_materialized("orders", run="*report", name="b")])
    message = str(raised.value)
    assert "sensor 'typo' runs flow 'ingets', which is not in these definitions; did you " \
           "mean 'ingest'?" in message
    assert "sensor 'assets_typo': " in message and "reprt" in message
    assert "Definitions(sensors=...) got 3, which is not a sensor; write @lg.sensor(...)" \
        in message
    assert "asset trigger 'a' watches asset 'ordres', which is not in these definitions; " \
           "did you mean 'orders'?" in message
    assert "asset trigger 'b' runs 'orders', which it watches" in message


def test_two_sensors_with_one_name() -> None:
    other = lg.sensor(flow=ingest, name="files")(lambda: None)
    with pytest.raises(lg.DefinitionError, match="two sensors are named 'files'"):
        lg.Definitions(flows=[ingest], sensors=[files, other])
