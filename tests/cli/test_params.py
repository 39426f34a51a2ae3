"""``--param key=value`` typing, on its own."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.cli.params import parse_params, split_pairs
from legato.errors import ParamsError


def typed(day: str, n: int, ratio: float, dry_run: bool, *, maybe: int | None = None,
          old_style: float | None = None, anything: Any = None, items: list[int] | None = None,
          ctx: object = None) -> None:
    del day, n, ratio, dry_run, maybe, old_style, anything, items, ctx


def test_annotations_type_the_values() -> None:
    params = parse_params(["day=2024-05-01", "n=3", "ratio=0.25", "dry_run=off", "maybe=4",
                           "old_style=1", "anything=[1, 2]", "items=[3]"], typed)
    assert params == {"day": "2024-05-01", "n": 3, "ratio": 0.25, "dry_run": False, "maybe": 4,
                      "old_style": 1.0, "anything": [1, 2], "items": [3]}
    assert type(params["old_style"]) is float


def test_string_annotations_from_future_imports() -> None:
    def later(n: int, flag: bool | None = None) -> None: ...

    assert parse_params(["n=7", "flag=true"], later) == {"n": 7, "flag": True}


def test_without_a_function_values_are_json_or_text() -> None:
    assert parse_params(["a=1", "b=true", "c=text", "d={\"x\": null}", "e="]) == {
        "a": 1, "b": True, "c": "text", "d": {"x": None}, "e": ""}


def test_values_may_hold_equals_signs() -> None:
    assert split_pairs(["query=a=b"]) == {"query": "a=b"}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["n=1.5"], "'n' takes an int, and '1.5' is not one"),
        (["dry_run=perhaps"], "'dry_run' takes true or false"),
        (["ctx=1"], "has no parameter 'ctx'"),
        (["=1"], "is not KEY=VALUE"),
        (["unknown=1"], "has no parameter 'unknown'"),
    ],
)
def test_bad_pairs(pairs: list[str], message: str) -> None:
    with pytest.raises(ParamsError, match=message) as caught:
        parse_params(pairs, typed, what="flow 'typed'")
    assert caught.value.hint


def test_a_flow_taking_kwargs_accepts_any_name() -> None:
    def open_ended(**options: Any) -> None: ...

    assert parse_params(["x=1", "y=z"], open_ended) == {"x": 1, "y": "z"}


@given(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
       st.text(alphabet=st.characters(blacklist_categories=["Cs"])))
def test_round_trip(n: int, ratio: float, flag: bool, day: str) -> None:
    params = parse_params([f"n={n}", f"ratio={ratio!r}", f"dry_run={str(flag).lower()}",
                           f"day={day}"], typed)
    assert params == {"n": n, "ratio": ratio, "dry_run": flag, "day": day}


@pytest.mark.parametrize("pair", ["ratio=nan", "ratio=-inf", "anything=NaN",
                                  "anything={\"a\": [Infinity]}"])
def test_non_finite_numbers_are_refused(pair: str) -> None:
    with pytest.raises(ParamsError, match="NaN and infinite numbers are not allowed"):
        parse_params([pair], typed)
    if pair.startswith("anything"):  # JSON's spelling; untyped "nan" stays the text "nan"
        with pytest.raises(ParamsError, match="NaN and infinite numbers are not allowed"):
            parse_params([pair])


def test_idempotency_keys_must_be_text() -> None:
    from legato.cli.params import check_idempotency_key

    check_idempotency_key(None)
    check_idempotency_key("nightly-2026-01-01 ✓")
    for bad in ("k\udcff", "a\x00b", "  "):
        with pytest.raises(ParamsError, match="--idempotency-key"):
            check_idempotency_key(bad)
