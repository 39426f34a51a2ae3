"""Asset selections: ``name``, ``*name``, ``name*``, ``*``, unions, and unknown names."""

from __future__ import annotations

import pytest

import legato as lg
from legato.graph.selection import resolve_selection

# raw -> events -> features -> model -> report
#                  users ----^
# audit (independent)


@lg.asset
def raw() -> None: ...


@lg.asset(deps=[raw])
def events() -> None: ...


@lg.asset
def users() -> None: ...


@lg.asset
def features(events: None, users: None) -> None: ...


@lg.asset
def model(features: None) -> None: ...


@lg.asset
def report(model: None) -> None: ...


@lg.asset
def audit() -> None: ...


DEFS = lg.Definitions(assets=[report, model, features, users, events, raw, audit])


def select(selection: object) -> list[str]:
    return resolve_selection(DEFS.graph, selection)  # type: ignore[arg-type]


def assert_topological(keys: list[str]) -> None:
    for position, key in enumerate(keys):
        for upstream in DEFS.graph.upstream[key]:
            if upstream in keys:
                assert keys.index(upstream) < position, (upstream, key, keys)


def test_a_name_selects_only_that_asset() -> None:
    assert select("features") == ["features"]


def test_star_before_selects_all_upstream_in_order() -> None:
    chosen = select("*model")
    assert set(chosen) == {"raw", "events", "users", "features", "model"}
    assert_topological(chosen)
    assert chosen[-1] == "model"


def test_star_after_selects_all_downstream_in_order() -> None:
    assert select("events*") == ["events", "features", "model", "report"]


def test_stars_on_both_sides() -> None:
    chosen = select("*features*")
    assert set(chosen) == {"raw", "events", "users", "features", "model", "report"}
    assert_topological(chosen)


@pytest.mark.parametrize("selection", ["*", None, ["*"], [" * "]])
def test_everything(selection: object) -> None:
    chosen = select(selection)
    assert set(chosen) == set(DEFS.assets)
    assert_topological(chosen)


def test_several_selections_are_united() -> None:
    chosen = select(["audit", "users*", "raw"])
    assert set(chosen) == {"audit", "users", "features", "model", "report", "raw"}
    assert_topological(chosen)


def test_definitions_can_be_selected_directly() -> None:
    assert select(model) == ["model"]
    assert select([report, users]) == sorted(["report", "users"], key=DEFS.graph.order.index)


def test_whitespace_is_ignored() -> None:
    assert select("  model ") == ["model"]


def test_a_leaf_with_star_after_is_itself() -> None:
    assert select("report*") == ["report"]
    assert select("*raw") == ["raw"]


def test_unknown_name_suggests_the_nearest() -> None:
    with pytest.raises(lg.SelectionError) as caught:
        select("featurs")
    assert str(caught.value) == "no asset named 'featurs'; did you mean 'features'?"


def test_unknown_name_with_stars_names_the_asset_without_them() -> None:
    with pytest.raises(lg.SelectionError, match="no asset named 'modle'; did you mean 'model'"):
        select("*modle*")


def test_unknown_name_without_a_near_match_lists_the_assets() -> None:
    with pytest.raises(lg.SelectionError) as caught:
        select("zzz")
    assert "defined assets: audit, events, features" in str(caught.value)


def test_unknown_name_when_nothing_is_defined() -> None:
    with pytest.raises(lg.SelectionError, match="no assets are defined"):
        resolve_selection(lg.Definitions().graph, "events")


def test_an_empty_selection_is_refused() -> None:
    with pytest.raises(lg.SelectionError, match="the selection is empty"):
        select([])


def test_selection_errors_are_legato_errors() -> None:
    assert issubclass(lg.SelectionError, lg.LegatoError)
