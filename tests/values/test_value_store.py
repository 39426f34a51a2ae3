"""The value store: JSON inline or in a file, Parquet for frames, pickle for the rest; every
file written atomically and checked against its digest when loaded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import hashlib
import json
import math
import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.errors import ValueStoreError
from legato.store.records import StoredValue
from legato.values import value_store
from legato.values.value_store import INLINE_LIMIT, ValueStore, is_plain_json


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


@pytest.fixture
def store(tmp_path: Path) -> ValueStore:
    return ValueStore(tmp_path / "values")


def files(root: Path) -> list[str]:
    """Every file under the value folder, temporary ones included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def same(a: Any, b: Any) -> bool:
    """Equal, and of exactly the same types all the way down (1 == 1.0 == True is not)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


# -- JSON ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    None, True, 0, -7, 2**80, 1.5, -0.0, float("inf"), "", "ünïcödé ✓ \x00 \ud83d",
    [], {}, [1, "a", None, [2.5]], {"a": {"b": [1, {"c": None}]}, "": False},
])
def test_small_json_lives_inline(store: ValueStore, value: Any) -> None:
    stored, info = store.put("run/step", value)
    assert stored.format == "json" and stored.uri is None and stored.inline is not None
    assert stored.type == f"builtins.{type(value).__name__}"
    data = stored.inline.encode()
    assert stored.size == len(data) and stored.digest == hashlib.sha256(data).hexdigest()
    assert info.row_count == (len(value) if isinstance(value, list) else None)
    assert same(store.get(stored), value)
    assert not store.root.exists()  # nothing written to disk


def test_json_larger_than_the_store_row_goes_to_a_file(store: ValueStore) -> None:
    value = [{"user": i, "name": "x" * 100} for i in range(3000)]
    stored, info = store.put("run1/features", value)
    assert stored.format == "json" and stored.inline is None
    assert stored.uri == str(store.root / "run1" / "features.json")
    data = Path(stored.uri).read_bytes()
    assert stored.size == len(data) > INLINE_LIMIT
    assert stored.digest == hashlib.sha256(data).hexdigest()
    assert info.row_count == 3000
    assert store.get(stored) == value
    assert files(store.root) == ["run1/features.json"]


def test_the_inline_limit_is_exact(store: ValueStore) -> None:
    at_limit = "x" * (INLINE_LIMIT - 2)  # two quotes make it INLINE_LIMIT bytes
    stored, _ = store.put("r/at", at_limit)
    assert stored.inline is not None and stored.size == INLINE_LIMIT
    stored, _ = store.put("r/over", at_limit + "x")
    assert stored.inline is None and stored.size == INLINE_LIMIT + 1
    assert store.get(stored) == at_limit + "x"


def test_step_keys_become_safe_file_names(store: ValueStore) -> None:
    stored, _ = store.put("run/fetch[3]/../../etc", "x" * (INLINE_LIMIT + 1))
    assert stored.uri is not None
    assert Path(stored.uri).parent == store.root / "run"
    assert store.get(stored) == "x" * (INLINE_LIMIT + 1)


# -- Parquet -------------------------------------------------------------------------------

FRAMES: dict[str, Callable[[], Any]] = {
    "polars": lambda: pl.DataFrame({"user_id": [1, 2, 3], "name": ["a", "b", None]}),
    "pandas": lambda: pd.DataFrame({"user_id": [1, 2, 3], "name": ["a", "b", None]}),
    "arrow": lambda: pa.table({"user_id": [1, 2, 3], "name": ["a", "b", None]}),
}


def frames_equal(kind: str, a: Any, b: Any) -> bool:
    if kind == "pandas":
        pd.testing.assert_frame_equal(a, b)
        return True
    return bool(a.equals(b))


@pytest.mark.parametrize("kind", list(FRAMES))
@pytest.mark.parametrize("io", ["auto", "parquet"])
def test_frames_are_parquet(store: ValueStore, kind: str, io: str) -> None:
    frame = FRAMES[kind]()
    stored, info = store.put("run/events", frame, io)
    assert (stored.format, stored.type, stored.inline) == ("parquet", kind, None)
    path = Path(stored.uri or "")
    assert path == store.root / "run" / "events.parquet"
    assert stored.size == path.stat().st_size
    assert stored.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.row_count == 3
    assert info.columns is not None and list(info.columns) == ["user_id", "name"]
    loaded = store.get(stored)
    assert type(loaded) is type(frame) and frames_equal(kind, loaded, frame)
    assert files(store.root) == ["run/events.parquet"]


def test_polars_column_types_are_recorded(store: ValueStore) -> None:
    _, info = store.put("run/events", FRAMES["polars"]())
    assert info.columns == {"user_id": "Int64", "name": "String"}


# -- pickle ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    (1, 2), {1, 2}, {1: "a"}, {(1, 2): "a"}, dt.datetime(2026, 11, 21, 3, 0),
    decimal.Decimal("1.10"), Point(1, 2), b"\x00bytes", float("nan"), [1, (2, 3)],
    {"a": {"b": {5}}},
])
def test_other_objects_are_pickled(store: ValueStore, value: Any) -> None:
    stored, info = store.put("run/step", value)
    assert stored.format == "pickle" and stored.inline is None
    assert stored.type == f"{type(value).__module__}.{type(value).__qualname__}"
    assert Path(stored.uri or "").suffix == ".pickle"
    assert info.row_count is None
    assert same(store.get(stored), value)


@pytest.mark.parametrize(("make", "type_name"), [
    (lambda: (i for i in range(3)), "builtins.generator"),
    (threading.Lock, "_thread.lock"),
    (lambda: [1, threading.Lock()], "builtins.list"),
    (lambda: lambda x: x, "builtins.function"),
])
def test_an_unpicklable_value_is_refused_with_the_fix(
    store: ValueStore, make: Callable[[], Any], type_name: str
) -> None:
    with pytest.raises(ValueStoreError) as refused:
        store.put("run/step", make())
    assert str(refused.value).startswith(f"the value is a {type_name}, which legato cannot "
                                         "store: ")
    assert "pickle" in str(refused.value)
    assert refused.value.hint is not None
    assert "return JSON-able data" in refused.value.hint and "dataframe" in refused.value.hint
    assert not store.root.exists() or files(store.root) == []


def test_pickling_can_be_disabled(tmp_path: Path) -> None:
    store = ValueStore(tmp_path, allow_pickle=False)
    with pytest.raises(ValueStoreError, match=r"the value is a builtins\.tuple, which is "
                       "neither JSON nor a dataframe, and pickling is disabled") as refused:
        store.put("run/step", (1, 2))
    assert "LEGATO_ALLOW_PICKLE=true" in (refused.value.hint or "")
    assert files(tmp_path) == []
    # JSON and frames still work.
    assert store.get(store.put("run/a", {"a": 1})[0]) == {"a": 1}
    assert store.get(store.put("run/b", FRAMES["polars"]())[0]).height == 3


def test_a_store_that_disallows_pickle_does_not_load_one(tmp_path: Path) -> None:
    stored, _ = ValueStore(tmp_path).put("run/step", (1, 2))
    with pytest.raises(ValueStoreError, match="is pickled, and pickling is disabled") as refused:
        ValueStore(tmp_path, allow_pickle=False).get(stored)
    assert "LEGATO_ALLOW_PICKLE" in (refused.value.hint or "")


def test_a_pickle_whose_type_is_gone(store: ValueStore) -> None:
    stored, _ = store.put("run/step", Point(1, 2))
    path = Path(stored.uri or "")
    data = path.read_bytes().replace(b"Point", b"Gone!")
    path.write_bytes(data)
    stored = dataclasses.replace(stored, digest=hashlib.sha256(data).hexdigest())
    with pytest.raises(ValueStoreError, match=r"cannot unpickle value run/step \(a "
                       r"test_value_store\.Point\)") as refused:
        store.get(stored)
    assert "run the step again" in (refused.value.hint or "")


# -- io= ---------------------------------------------------------------------------------------


def test_io_json_refuses_what_json_cannot_hold(store: ValueStore) -> None:
    for value, type_name in [((1, 2), "builtins.tuple"), ({1: 2}, "builtins.dict"),
                             (FRAMES["polars"](), "polars.dataframe.frame.DataFrame")]:
        with pytest.raises(ValueStoreError, match=f"io='json' but the value is a {type_name}, "
                           "which JSON cannot hold exactly") as refused:
            store.put("run/step", value, "json")
        assert "io='auto'" in (refused.value.hint or "")
    assert store.get(store.put("run/ok", [1, 2], "json")[0]) == [1, 2]


def test_io_parquet_refuses_what_is_not_a_frame(store: ValueStore) -> None:
    for value in [{"a": [1]}, [1, 2], (1,)]:
        with pytest.raises(ValueStoreError, match=r"io='parquet' but the value is a builtins\."
                           r"\w+, not a Polars, pandas or Arrow frame") as refused:
            store.put("run/step", value, "parquet")
        assert "io='auto'" in (refused.value.hint or "")
    assert not store.root.exists()


def test_io_pickle_pickles_anything(store: ValueStore) -> None:
    for value in [{"a": 1}, FRAMES["polars"]()]:
        stored, _ = store.put("run/step", value, "pickle")
        assert stored.format == "pickle"
        loaded = store.get(stored)
        assert loaded.equals(value) if isinstance(value, pl.DataFrame) else loaded == value


# -- damaged and missing files ---------------------------------------------------------------

EVERY_FORMAT: dict[str, Callable[[], Any]] = {
    "json": lambda: ["x" * 1000] * 300,
    "pickle": lambda: ("x" * 1000, 2),
    "parquet": lambda: pl.DataFrame({"a": list(range(1000)), "b": ["x"] * 1000}),
}


@pytest.mark.parametrize("fmt", list(EVERY_FORMAT))
@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "append"])
def test_a_damaged_file_is_detected(store: ValueStore, fmt: str, damage: str) -> None:
    stored, _ = store.put("run/step", EVERY_FORMAT[fmt]())
    assert stored.format == fmt
    path = Path(stored.uri or "")
    data = bytearray(path.read_bytes())
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncate":
        del data[-10:]
    else:
        data += b"\n"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueStoreError) as damaged:
        store.get(stored)
    assert str(damaged.value) == (f"the file of value run/step is damaged (its checksum "
                                  f"differs): {path}")
    assert damaged.value.hint == "run the step again to write it anew"


@pytest.mark.parametrize("fmt", list(EVERY_FORMAT))
def test_a_missing_file(store: ValueStore, fmt: str) -> None:
    stored, _ = store.put("run/step", EVERY_FORMAT[fmt]())
    Path(stored.uri or "").unlink()
    with pytest.raises(ValueStoreError, match="the file of value run/step is missing") as gone:
        store.get(stored)
    assert "run the step again" in (gone.value.hint or "")


def test_a_value_written_on_another_machine(store: ValueStore, tmp_path: Path) -> None:
    """A worker on another host reads a record whose file lives on the writer's disk: the
    error says so and names the setting, instead of 'run the step again' alone."""
    stored, _ = store.put("run/step", b"x" * 10_000)
    elsewhere = dataclasses.replace(stored, uri=str(tmp_path / "other-host" / "run" / "step"))
    with pytest.raises(ValueStoreError, match="its folder does not exist on this machine") as gone:
        store.get(elsewhere)
    assert "LEGATO_VALUES_DIR" in (gone.value.hint or "")
    assert "several hosts" in (gone.value.hint or "")


def test_a_record_without_data(store: ValueStore) -> None:
    record = StoredValue(value_id="r/s", format="json", type="builtins.dict", inline=None,
                         uri=None, size=0, digest="", created_at=0.0)
    with pytest.raises(ValueStoreError, match="value r/s has neither inline data nor a file"):
        store.get(record)


# -- failed writes leave no torn file ----------------------------------------------------------


@pytest.mark.parametrize("fmt", list(EVERY_FORMAT))
def test_a_failed_link_leaves_no_file(store: ValueStore, fmt: str) -> None:
    with mock.patch.object(value_store.os, "link",
                           side_effect=OSError(28, "No space left on device")), \
            mock.patch.object(value_store.os, "replace",
                              side_effect=OSError(28, "No space left on device")), \
            pytest.raises(ValueStoreError) as failed:
        store.put("run/step", EVERY_FORMAT[fmt]())
    assert "No space left on device" in str(failed.value)
    assert "free some space" in (failed.value.hint or "")
    assert files(store.root) == []


@pytest.mark.parametrize("error", [OSError(27, "File too large"), RuntimeError("writer died")])
def test_a_failed_parquet_write_leaves_no_file(store: ValueStore, error: Exception) -> None:
    def half_then_fail(value: Any, kind: str, path: Path) -> None:
        path.write_bytes(b"PAR1 half a file")
        raise error

    with mock.patch.object(value_store, "write_parquet", half_then_fail), \
            pytest.raises(ValueStoreError, match=str(error.args[-1])) as failed:
        store.put("run/events", FRAMES["polars"]())
    assert str(store.root / "run" / "events.parquet") in str(failed.value)
    assert failed.value.hint
    assert files(store.root) == []


def test_an_interrupted_write_leaves_no_file(store: ValueStore) -> None:
    def interrupted(value: Any, kind: str, path: Path) -> None:
        path.write_bytes(b"PAR1 half a file")
        raise KeyboardInterrupt

    with mock.patch.object(value_store, "write_parquet", interrupted), \
            pytest.raises(KeyboardInterrupt):
        store.put("run/events", FRAMES["polars"]())
    assert files(store.root) == []


@pytest.mark.parametrize("fmt", list(EVERY_FORMAT))
def test_a_failed_rewrite_keeps_the_previous_file_whole(store: ValueStore, fmt: str) -> None:
    first, _ = store.put("run/step", EVERY_FORMAT[fmt]())
    with mock.patch.object(value_store.os, "link", side_effect=OSError(5, "I/O error")), \
            mock.patch.object(value_store.os, "replace", side_effect=OSError(5, "I/O error")), \
            pytest.raises(ValueStoreError):
        store.put("run/step", EVERY_FORMAT[fmt]())
    loaded = store.get(first)
    expected = EVERY_FORMAT[fmt]()
    assert loaded.equals(expected) if fmt == "parquet" else loaded == expected
    assert files(store.root) == [str(Path(first.uri or "").relative_to(store.root))]


def test_fsync_mode_writes_the_same_files(tmp_path: Path) -> None:
    store = ValueStore(tmp_path, fsync=True)
    for fmt, make in EVERY_FORMAT.items():
        stored, _ = store.put(f"run/{fmt}", make())
        loaded = store.get(stored)
        assert loaded.equals(make()) if fmt == "parquet" else loaded == make()
    assert all(not name.endswith(".tmp") for name in files(tmp_path))


# -- properties ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values, small_limit=st.booleans())
def test_any_json_value_round_trips_exactly(tmp_path_factory: pytest.TempPathFactory,
                                            value: Any, small_limit: bool) -> None:
    store = ValueStore(tmp_path_factory.mktemp("values"))
    assert is_plain_json(value)
    with mock.patch.object(value_store, "INLINE_LIMIT", 16 if small_limit else INLINE_LIMIT):
        stored, _ = store.put("run/step", value)
    assert stored.format == "json"
    assert same(store.get(stored), value)
    assert same(json.loads(stored.inline or Path(stored.uri or "").read_text()), value)


not_json = st.recursive(
    st.tuples(st.integers()) | st.frozensets(st.integers(), max_size=3)
    | st.dictionaries(st.integers() | st.tuples(st.text()), st.none(), min_size=1, max_size=3),
    lambda inner: st.lists(inner, min_size=1, max_size=3).map(lambda v: [*v, 1])
    | st.dictionaries(st.text(), inner, min_size=1, max_size=3)
    | st.tuples(inner, json_values),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None)
@given(value=not_json)
def test_tuples_and_non_string_keys_are_not_plain_json(
    tmp_path_factory: pytest.TempPathFactory, value: Any
) -> None:
    """JSON would turn tuples into lists and keys into strings: these are pickled instead,
    and come back exactly."""
    assert not is_plain_json(value)
    store = ValueStore(tmp_path_factory.mktemp("values"))
    stored, _ = store.put("run/step", value)
    assert stored.format == "pickle"
    assert store.get(stored) == value
    assert type(store.get(stored)) is type(value)


def test_nesting_deeper_than_json_should_go_is_pickled(store: ValueStore) -> None:
    value: Any = "leaf"
    for _ in range(150):
        value = [value]
    assert not is_plain_json(value)
    stored, _ = store.put("run/deep", value)
    assert stored.format == "pickle" and store.get(stored) == value


def test_temporary_names_are_hidden_and_per_process(store: ValueStore) -> None:
    path = store.root / "run" / "step.json"
    tmp = ValueStore._tmp(path)
    assert tmp.parent == path.parent and tmp.name.startswith(".")
    assert str(os.getpid()) in tmp.name and tmp.suffix == ".tmp"


def test_pickled_bytes_are_the_stored_bytes(store: ValueStore) -> None:
    stored, _ = store.put("run/step", (1, "a"))
    data = Path(stored.uri or "").read_bytes()
    assert pickle.loads(data) == (1, "a")
    assert stored.size == len(data) and stored.digest == hashlib.sha256(data).hexdigest()


# -- a committed file is never replaced -------------------------------------------------------


@pytest.mark.parametrize("fmt", list(EVERY_FORMAT))
def test_a_second_write_of_a_value_gets_a_file_of_its_own(store: ValueStore, fmt: str) -> None:
    """A late writer (a process whose run was taken over, or an attempt that ran again) never
    replaces the file that a committed record refers to."""
    first, _ = store.put("run/step", EVERY_FORMAT[fmt]())
    before = Path(first.uri or "").read_bytes()
    second, _ = store.put("run/step", EVERY_FORMAT[fmt]())
    assert second.uri != first.uri
    assert Path(first.uri or "").read_bytes() == before
    assert Path(second.uri or "").name.startswith("step.")
    assert not [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]
    for stored in (first, second):
        store.get(stored)


def test_without_hard_links_the_file_is_renamed_into_place(store: ValueStore) -> None:
    with mock.patch.object(value_store.os, "link", side_effect=PermissionError(1, "EPERM")):
        first, _ = store.put("run/step", {"big": "x" * 300_000})
        second, _ = store.put("run/step", {"big": "y" * 300_000})
    assert first.uri != second.uri
    assert store.get(first) == {"big": "x" * 300_000}
    assert store.get(second) == {"big": "y" * 300_000}
