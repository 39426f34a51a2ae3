"""The storable-text policy (``store/storable.py``): surrogates and NUL escaped, everything
else unchanged, JSON without the escapes PostgreSQL refuses."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from legato.store.storable import dumps, is_storable, storable, storable_row, storable_text

ANY_TEXT = st.text(st.characters(codec=None))
STORABLE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))


def test_the_policy_by_example() -> None:
    name = b"report-\xff.csv".decode("utf-8", "surrogateescape")
    assert storable_text(name) == "report-\\xff.csv"
    assert storable_text(name) == name.encode("utf-8", "surrogateescape").decode(
        "utf-8", "backslashreplace")
    assert storable_text("bad\x00value") == "bad\\x00value"
    assert storable_text("a\ud800b") == "a\\ud800b"  # not from surrogateescape
    assert storable_text("caf\xe9 \U0001f600") == "caf\xe9 \U0001f600"


@given(ANY_TEXT)
def test_any_text_becomes_storable(text: str) -> None:
    result = storable_text(text)
    result.encode("utf-8")  # no surrogate left
    assert "\x00" not in result
    assert is_storable(result)


@given(STORABLE_TEXT)
def test_storable_text_is_unchanged(text: str) -> None:
    assert storable_text(text) is text
    row = {"message": text, "level": 20}
    assert storable_row(row) is row and row["message"] is text


@given(st.dictionaries(ANY_TEXT, st.lists(ANY_TEXT | st.integers(), max_size=3), max_size=4))
def test_json_never_carries_a_nul_or_surrogate_escape(data: dict[str, list[object]]) -> None:
    text = dumps(data)
    assert text.isascii() and "\\u0000" not in text
    assert json.loads(text) == storable(data)


@given(st.dictionaries(STORABLE_TEXT, STORABLE_TEXT, max_size=4))
def test_json_of_storable_data_is_plain_json(data: dict[str, str]) -> None:
    assert dumps(data) == json.dumps(data, separators=(",", ":"))
