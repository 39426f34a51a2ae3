"""Where definitions were written, and their code version."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import legato as lg
from legato.definitions.loader import load_definitions
from legato.definitions.source import code_version_of

PIPELINE = """\
import legato as lg

@lg.asset
def events():
    return {body}
"""


def test_default_code_version_is_a_short_source_hash() -> None:
    @lg.asset
    def events() -> int:
        return 1

    assert re.fullmatch(r"[0-9a-f]{12}", events.code_version)
    assert events.code_version == code_version_of(events.fn)
    assert events.code_version == events.code_version


def test_explicit_code_version_wins() -> None:
    @lg.asset(code_version="2024-06-01")
    def events() -> int:
        return 1

    @lg.task(code_version="v3")
    def fetch() -> None: ...

    assert events.code_version == "2024-06-01"
    assert fetch.code_version == "v3"


def test_code_version_follows_the_source(user_code: Path) -> None:
    for name, body in [("one", "1"), ("same", "1"), ("changed", "2")]:
        (user_code / f"{name}.py").write_text(PIPELINE.format(body=body))
    one, same, changed = (
        load_definitions(f"{name}.py").assets["events"].code_version
        for name in ("one", "same", "changed")
    )
    assert one == same  # the version depends on the source, not on where it lives
    assert one != changed


def test_code_version_without_source_uses_the_bytecode() -> None:
    namespace: dict[str, object] = {}
    exec("def f():\n    return 1\ndef g():\n    return 2\n", namespace)
    f_version = code_version_of(namespace["f"])  # type: ignore[arg-type]
    g_version = code_version_of(namespace["g"])  # type: ignore[arg-type]
    assert re.fullmatch(r"[0-9a-f]{12}", f_version)
    assert f_version != g_version


def test_location_is_the_definition_line() -> None:
    @lg.task
    def fetch() -> None: ...

    assert fetch.location.file == __file__
    assert fetch.location.line == fetch.fn.__code__.co_firstlineno
    assert str(fetch.location) == f"{__file__}:{fetch.location.line}"


def test_code_version_without_source_is_stable_for_the_same_code() -> None:
    source = "def f(xs):\n    return sorted(xs, key=lambda x: -x)\n"
    first: dict[str, object] = {}
    second: dict[str, object] = {}
    exec(compile(source, "<flows>", "exec"), first)
    exec(compile(source, "<flows>", "exec"), second)
    assert first["f"] is not second["f"]
    assert code_version_of(first["f"]) == code_version_of(second["f"])  # type: ignore[arg-type]


def _scale(x: int, factor: int) -> int:
    return x * factor


class _Doubler:
    def __call__(self, x: int) -> int:
        return x * 2


def test_code_version_of_partials_and_callable_objects_is_their_code() -> None:
    one = code_version_of(functools.partial(_scale, factor=2))
    two = code_version_of(functools.partial(_scale, factor=3))
    assert one == two == code_version_of(_scale)
    assert code_version_of(_Doubler()) == code_version_of(_Doubler())
    assert code_version_of(_Doubler()) != one
