"""The asset graph: edges, execution order, ancestors/descendants, cycles (with properties)."""

from __future__ import annotations

import itertools
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import legato as lg
from legato.definitions.asset import AssetDefinition
from legato.graph.asset_graph import AssetGraph
from legato.graph.selection import resolve_selection

Edges = set[tuple[str, str]]
"""(upstream, downstream) pairs."""


def _noop() -> None: ...


def build(keys: list[str], edges: Edges) -> AssetGraph:
    assets: dict[str, AssetDefinition[Any, Any]] = {
        key: lg.asset(key=key, deps=sorted(u for u, d in edges if d == key))(_noop)
        for key in keys
    }
    return AssetGraph(assets)


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], Edges]:
    """Random DAGs: edges go from earlier to later in a shuffled list of names."""
    size = draw(st.integers(min_value=1, max_value=12))
    keys = draw(st.permutations([f"n{i}" for i in range(size)]))
    pairs = [(keys[i], keys[j]) for i in range(size) for j in range(i + 1, size)]
    edges = set(draw(st.lists(st.sampled_from(pairs), unique=True))) if pairs else set()
    shuffled = draw(st.permutations(keys))  # the order the definitions are given in
    return shuffled, edges


def closure(keys: list[str], edges: Edges) -> Edges:
    """All (ancestor, descendant) pairs, computed the slow and obvious way."""
    reach = set(edges)
    for middle in keys:
        for a in keys:
            for b in keys:
                if (a, middle) in reach and (middle, b) in reach:
                    reach.add((a, b))
    return reach


def test_edges_both_ways() -> None:
    graph = build(["a", "b", "c"], {("a", "b"), ("a", "c"), ("b", "c")})
    assert graph.problems == []
    assert graph.upstream == {"a": (), "b": ("a",), "c": ("a", "b")}
    assert {k: sorted(v) for k, v in graph.downstream.items()} == {
        "a": ["b", "c"],
        "b": ["c"],
        "c": [],
    }
    assert graph.order == ("a", "b", "c")
    assert graph.ancestors(["c"]) == {"a", "b"}
    assert graph.descendants(["a"]) == {"b", "c"}
    assert graph.sorted(["c", "a"]) == ["a", "c"]


def test_inputs_and_deps_are_both_edges() -> None:
    @lg.asset
    def a() -> None: ...

    @lg.asset(deps=["a"])
    def b() -> None: ...

    @lg.asset(deps=["a"])
    def c(b: None) -> None: ...

    graph = AssetGraph({"a": a, "b": b, "c": c})
    assert graph.upstream["c"] == ("b", "a")
    assert graph.order == ("a", "b", "c")


def test_a_missing_upstream_is_a_problem_and_not_an_edge() -> None:
    graph = build(["a"], {("ghost", "a")})
    assert graph.upstream == {"a": ()}
    (problem,) = graph.problems
    assert "asset 'a' depends on 'ghost', which is not defined" in problem.message


@settings(max_examples=200, deadline=None)
@given(dags())
def test_order_puts_every_upstream_before_its_downstream(dag: tuple[list[str], Edges]) -> None:
    keys, edges = dag
    graph = build(keys, edges)
    assert graph.problems == []
    assert sorted(graph.order) == sorted(keys)
    position = {key: i for i, key in enumerate(graph.order)}
    for upstream, downstream in edges:
        assert position[upstream] < position[downstream]


@settings(max_examples=200, deadline=None)
@given(dags())
def test_ancestors_and_descendants_are_consistent(dag: tuple[list[str], Edges]) -> None:
    keys, edges = dag
    graph = build(keys, edges)
    reach = closure(keys, edges)
    for x in keys:
        ancestors = graph.ancestors([x])
        descendants = graph.descendants([x])
        assert ancestors == {a for a, b in reach if b == x}
        assert descendants == {b for a, b in reach if a == x}
        assert x not in ancestors and x not in descendants
        for y in keys:
            assert (x in graph.ancestors([y])) == (y in descendants)


@settings(max_examples=200, deadline=None)
@given(dags(), st.data())
def test_a_back_edge_makes_a_cycle_that_is_reported(
    dag: tuple[list[str], Edges], data: st.DataObject
) -> None:
    keys, edges = dag
    reach = closure(keys, edges) | {(k, k) for k in keys}
    upstream, downstream = data.draw(st.sampled_from(sorted(reach)))
    cyclic = edges | {(downstream, upstream)}  # downstream now also feeds its ancestor
    graph = build(keys, cyclic)
    (problem,) = graph.problems
    match = re.match(r"assets form a cycle: (.*?) \(", problem.message)
    assert match, problem.message
    path = match.group(1).split(" -> ")
    assert path[0] == path[-1]
    assert len(set(path[:-1])) == len(path) - 1
    for a, b in itertools.pairwise(path):
        assert (a, b) in cyclic, f"{a} -> {b} is not an edge in {problem.message}"
    assert problem.file is not None


@settings(max_examples=50, deadline=None)
@given(dags(), st.data())
def test_selections_of_random_graphs(dag: tuple[list[str], Edges], data: st.DataObject) -> None:
    keys, edges = dag
    graph = build(keys, edges)
    key = data.draw(st.sampled_from(keys))
    assert set(resolve_selection(graph, f"*{key}")) == graph.ancestors([key]) | {key}
    assert set(resolve_selection(graph, f"{key}*")) == graph.descendants([key]) | {key}
    chosen = resolve_selection(graph, [f"*{key}", f"{key}*"])
    assert chosen == [k for k in graph.order if k in set(chosen)]
