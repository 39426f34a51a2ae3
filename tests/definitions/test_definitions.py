"""``lg.Definitions``: gathering and validating a project's definitions at once."""

from __future__ import annotations

import re

import pytest

import legato as lg
from legato.errors import Problem


@lg.asset
def events() -> list[int]:
    return [1, 2, 3]


@lg.asset
def features(events: list[int]) -> list[int]:
    return events


@lg.task
def fetch(url: str) -> str:
    return url


@lg.flow
def nightly() -> None:
    fetch("x")


def test_definitions_are_gathered_by_name() -> None:
    defs = lg.Definitions(assets=[events, features], flows=[nightly], tasks=[fetch])
    assert defs.assets == {"events": events, "features": features}
    assert defs.flows == {"nightly": nightly}
    assert defs.tasks == {"fetch": fetch}
    assert defs.graph.order == ("events", "features")
    assert defs.flow("nightly") is nightly
    assert repr(defs) == "<Definitions 2 assets, 1 flows>"


def test_the_same_definition_twice_is_not_a_duplicate() -> None:
    defs = lg.Definitions(assets=[events, events])
    assert list(defs.assets) == ["events"]


def test_empty_definitions_are_valid() -> None:
    defs = lg.Definitions()
    assert defs.assets == {}
    assert defs.graph.order == ()


def test_unknown_flow_suggests_the_nearest() -> None:
    defs = lg.Definitions(flows=[nightly])
    message = "no flow named 'nighty'; did you mean 'nightly'?"
    with pytest.raises(lg.DefinitionError, match=re.escape(message)) as caught:
        defs.flow("nighty")
    assert caught.value.hint == "defined flows: nightly"


def test_duplicate_names_name_both_locations() -> None:
    @lg.asset(key="events")
    def other_events() -> None: ...

    with pytest.raises(lg.DefinitionError) as caught:
        lg.Definitions(assets=[events, other_events])
    (problem,) = caught.value.problems
    assert "two assets are named 'events'" in problem.message
    assert f"{events.location}" in problem.message
    assert (problem.file, problem.line) == (other_events.location.file, other_events.location.line)
    assert problem.line != events.location.line


def test_duplicate_flows_and_tasks() -> None:
    @lg.flow(name="nightly")
    def again() -> None: ...

    @lg.task(name="fetch")
    def fetch_again() -> None: ...

    with pytest.raises(lg.DefinitionError) as caught:
        lg.Definitions(flows=[nightly, again], tasks=[fetch, fetch_again])
    messages = [p.message for p in caught.value.problems]
    assert any("two flows are named 'nightly'" in m for m in messages)
    assert any("two tasks are named 'fetch'" in m for m in messages)


def test_missing_upstream_suggests_the_nearest_name() -> None:
    @lg.asset
    def model(featurs: list[int]) -> None: ...

    with pytest.raises(lg.DefinitionError) as caught:
        lg.Definitions(assets=[events, features, model])
    (problem,) = caught.value.problems
    assert problem.message == (
        "asset 'model' depends on 'featurs', which is not defined; did you mean 'features'?"
    )
    assert (problem.file, problem.line) == (model.location.file, model.location.line)


def test_missing_ordering_dependency_is_reported_too() -> None:
    @lg.asset(deps=["raw_fils"])
    def raw_files() -> None: ...

    @lg.asset(deps=["raw_file"])
    def parsed() -> None: ...

    with pytest.raises(lg.DefinitionError, match="did you mean 'raw_files'"):
        lg.Definitions(assets=[raw_files, parsed])


def test_a_cycle_is_printed_in_dependency_order() -> None:
    @lg.asset
    def a(c: int) -> None: ...

    @lg.asset
    def b(a: int) -> None: ...

    @lg.asset
    def c(b: int) -> None: ...

    with pytest.raises(lg.DefinitionError) as caught:
        lg.Definitions(assets=[a, b, c])
    (problem,) = caught.value.problems
    match = re.match(r"assets form a cycle: (.*?) \(", problem.message)
    assert match, problem.message
    path = match.group(1).split(" -> ")
    assert path[0] == path[-1]
    assert sorted(path[:-1]) == ["a", "b", "c"]
    rotations = {"a -> b -> c -> a", "b -> c -> a -> b", "c -> a -> b -> c"}
    assert match.group(1) in rotations  # upstream first: a feeds b, b feeds c, c feeds a
    assert problem.file == __file__


def test_an_asset_depending_on_itself_is_a_cycle() -> None:
    @lg.asset(deps=["loop"])
    def loop() -> None: ...

    with pytest.raises(lg.DefinitionError, match="assets form a cycle: loop -> loop"):
        lg.Definitions(assets=[loop])


def test_several_problems_are_reported_together() -> None:
    @lg.asset(key="events")
    def events_again() -> None: ...

    @lg.asset
    def model(featurs: int) -> None: ...

    @lg.asset
    def x(y: int) -> None: ...

    @lg.asset
    def y(x: int) -> None: ...

    def not_decorated() -> None: ...

    with pytest.raises(lg.DefinitionError) as caught:
        lg.Definitions(assets=[events, events_again, model, x, y, not_decorated])  # type: ignore[list-item]
    error = caught.value
    assert len(error.problems) == 4
    text = str(error)
    assert text.startswith("4 problems in the definitions:\n  - ")
    for expected in ("two assets are named 'events'", "depends on 'featurs'", "cycle",
                     "not_decorated"):
        assert expected in text


def test_non_definitions_are_refused_with_the_fix() -> None:
    def plain() -> None: ...

    with pytest.raises(lg.DefinitionError) as caught:
        lg.Definitions(assets=[plain, nightly], flows=[events])  # type: ignore[list-item]
    messages = [p.message for p in caught.value.problems]
    assert len(messages) == 3
    assert "Definitions(assets=...) got <function" in messages[0]
    assert "decorate the function with @lg.asset" in messages[0]
    assert "got <flow nightly>, which is not an @lg.asset" in messages[1]
    assert "Definitions(flows=...) got <asset events>, which is not an @lg.flow" in messages[2]


def test_a_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(lg.DefinitionError, match=r"a list of @lg\.asset"):
        lg.Definitions(assets="events")  # type: ignore[arg-type]


def test_collect_picks_definitions_out_of_any_objects() -> None:
    defs = lg.Definitions.collect(
        [events, features, nightly, fetch, 3, "text", lg, events], source="test"
    )
    assert set(defs.assets) == {"events", "features"}
    assert set(defs.flows) == {"nightly"}
    assert set(defs.tasks) == {"fetch"}
    assert defs.source == "test"


def test_a_problem_without_a_line_still_names_its_file() -> None:
    assert str(Problem("bad", "flows.py", 3)) == "flows.py:3: bad"
    assert str(Problem("bad", "flows.py", None)) == "flows.py: bad"
    assert str(Problem("bad")) == "bad"
