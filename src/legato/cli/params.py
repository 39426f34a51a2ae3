"""``--param key=value`` pairs, typed by the annotations of the flow's function.

``int``, ``float``, ``bool`` and ``str`` annotations convert the text (``X | None`` counts
as ``X``); any other annotation, or none, reads the text as JSON and keeps the text as it
is when that fails. A pair that does not fit raises ``ParamsError``.
"""

from __future__ import annotations

import inspect
import json
import math
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from legato.errors import ParamsError

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}
_BY_NAME: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}


def split_pairs(pairs: Sequence[str] | None) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``."""
    found: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParamsError(f"--param {pair!r} is not KEY=VALUE",
                              hint="write each parameter as --param name=value")
        if key in found:
            raise ParamsError(f"--param {key} is given twice", hint="give each parameter once")
        found[key] = value
    return found


def parse_params(pairs: Sequence[str] | None, fn: Callable[..., Any] | None = None,
                 *, what: str = "the run") -> dict[str, Any]:
    """Typed parameters for ``fn`` (a flow's or task's function); untyped without one."""
    raw = split_pairs(pairs)
    if fn is None:
        return {key: _finite(key, text, _guess(text)) for key, text in raw.items()}
    signature = inspect.signature(fn)
    accepted = {name: p for name, p in signature.parameters.items()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "ctx"}
    open_ended = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    hints = _hints(fn)
    params: dict[str, Any] = {}
    for key, text in raw.items():
        if key not in accepted and not open_ended:
            names = ", ".join(accepted) or "none"
            raise ParamsError(f"{what} has no parameter '{key}'",
                              hint=f"its parameters: {names}")
        params[key] = _finite(key, text, _convert(key, text,
                                                  hints.get(key, inspect.Parameter.empty)))
    return params


def _finite(key: str, text: str, value: Any) -> Any:
    """``value``, unless it holds NaN or an infinity: JSON (the store, every ``--json``
    output) has no such numbers, so a run could not record them faithfully."""
    def finite(item: Any) -> bool:
        if isinstance(item, float):
            return math.isfinite(item)
        if isinstance(item, dict):
            return all(finite(v) for v in item.values())
        if isinstance(item, list):
            return all(finite(v) for v in item)
        return True

    if not finite(value):
        raise ParamsError(f"--param {key}={text}: NaN and infinite numbers are not allowed "
                          "in parameters (JSON, in which runs are recorded, has no such "
                          "numbers)",
                          hint=f"pass a finite number, or null for a missing value: --param "
                          f"{key}=null (or a string, quoted as JSON: --param {key}='\"nan\"')")
    return value


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # names that only exist for type checkers: use the raw text
        return dict(getattr(fn, "__annotations__", {}))


def _plain_type(annotation: Any) -> Any:
    """``int | None`` -> ``int``; ``"int"`` -> ``int``; others unchanged."""
    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        for suffix in ("|None", "None|"):
            text = text.replace(suffix, "")
        return _BY_NAME.get(text, annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _convert(key: str, text: str, annotation: Any) -> Any:
    kind = _plain_type(annotation)
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ParamsError(f"--param {key}={text}: '{key}' takes true or false",
                          hint=f"write --param {key}=true or --param {key}=false")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            article = "an" if kind is int else "a"
            raise ParamsError(f"--param {key}={text}: '{key}' takes {article} {kind.__name__}, "
                              f"and '{text}' is not one",
                              hint=f"e.g. --param {key}={'3' if kind is int else '0.5'}"
                              ) from None
    if kind is str:
        return text
    return _guess(text)


def _guess(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def check_idempotency_key(key: str | None) -> None:
    """A key is text the store keeps as it is: UTF-8, without NUL. A key given as bytes
    that are not UTF-8 (``$'k\\xff'`` in a shell) arrives with surrogates and is refused."""
    if key is None:
        return
    shown = key.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ParamsError(f"--idempotency-key '{shown}' is not valid text: it holds bytes "
                          "that are not UTF-8",
                          hint="use a key made of UTF-8 text (e.g. the hex of the bytes)"
                          ) from None
    if "\x00" in key or not key.strip():
        raise ParamsError(f"--idempotency-key {shown!r} is empty or holds a NUL character",
                          hint="use a key of visible UTF-8 text")
