"""Where a definition was written, and the version of its code."""

from __future__ import annotations

import functools
import hashlib
import inspect
import marshal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

_code_versions: dict[object, str] = {}


@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str | None
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "<unknown>"


def location_of(fn: Callable[..., Any]) -> SourceLocation:
    code = getattr(fn, "__code__", None)
    if code is None:
        return SourceLocation(None, None)
    return SourceLocation(code.co_filename, code.co_firstlineno)


def docstring_of(fn: Callable[..., Any]) -> str | None:
    """A function's docstring; None for other callables (not their class's docstring)."""
    return inspect.getdoc(fn) if inspect.isfunction(fn) or inspect.ismethod(fn) else None


def caller_location(depth: int = 2) -> SourceLocation:
    """The file and line of the user code that called the public function."""
    frame: FrameType | None = sys._getframe(depth)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("legato."):
        frame = frame.f_back
    if frame is None:
        return SourceLocation(None, None)
    return SourceLocation(frame.f_code.co_filename, frame.f_lineno)


def code_version_of(fn: Callable[..., Any]) -> str:
    """A short hash of the function's source (its bytecode when the source is unavailable).

    Computed on first use and remembered, so that defining ten thousand assets never reads
    ten thousand source files.
    """
    cached = _code_versions.get(fn)
    if cached is not None:
        return cached
    target: object = fn
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isroutine(target) or inspect.isclass(target)):
        target = type(target)  # a callable object: the code is its class's
    try:
        text = inspect.getsource(target).encode()
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        # marshal, not repr: the repr of nested code objects holds memory addresses
        text = marshal.dumps(code) if code is not None else repr(target).encode()
    version = hashlib.sha256(text).hexdigest()[:12]
    _code_versions[fn] = version
    return version
