"""Capture what a step prints and logs, per attempt, even with many steps in threads.

``sys.stdout``/``sys.stderr`` are replaced (once per run) by routers that send each write
to the capture of the step running in the current context, or through unchanged. A logging
handler does the same for log records.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TextIO

from legato.engine.context import STEP_LOGGER

Line = tuple[float, str, int, str]  # at, stream, level, message

_current: ContextVar[Capture | None] = ContextVar("legato_capture", default=None)


class Capture:
    __slots__ = ("_partial", "lines")

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self._partial: dict[str, str] = {}

    def write(self, stream: str, text: str) -> None:
        text = self._partial.pop(stream, "") + text
        *complete, rest = text.split("\n")
        now = time.time()
        level = logging.ERROR if stream == "stderr" else logging.INFO
        self.lines.extend((now, stream, level, line) for line in complete)
        if rest:
            self._partial[stream] = rest

    def snapshot(self) -> list[Line]:
        """The lines so far, while the step may still be writing."""
        return list(self.lines)

    def finish(self) -> list[Line]:
        for stream, rest in self._partial.items():
            self.lines.append((time.time(), stream, logging.INFO, rest))
        self._partial.clear()
        return self.lines


class _Router:
    def __init__(self, stream: str, target: TextIO) -> None:
        self._stream = stream
        self.target = target

    def write(self, text: str) -> int:
        capture = _current.get()
        if capture is None:
            return self.target.write(text)
        capture.write(self._stream, text)
        return len(text)

    def flush(self) -> None:
        if _current.get() is None:
            self.target.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.target, name)


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        capture = _current.get()
        if capture is not None:
            try:
                message = self.format(record)
            except Exception:
                message = str(record.msg)
            capture.lines.append((record.created, "log", record.levelno, message))
        elif (record.levelno >= logging.WARNING and logging.lastResort is not None
              and logging.getLogger().handlers == [self]):
            # outside a step, with logging not configured: as Python does, to stderr
            logging.lastResort.handle(record)


_handler = _Handler()
_handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))  # the level is stored apart


class _Routing:
    """How many runs route output now, and the streams to restore after the last."""

    lock = threading.Lock()
    depth = 0
    saved: tuple[TextIO, TextIO] | None = None


@contextlib.contextmanager
def routing() -> Iterator[None]:
    """Route output to step captures while a run is in progress (nestable)."""
    state = _Routing
    with state.lock:
        if state.depth == 0:
            state.saved = (sys.stdout, sys.stderr)
            sys.stdout = _Router("stdout", sys.stdout)
            sys.stderr = _Router("stderr", sys.stderr)
            logging.getLogger().addHandler(_handler)
            step_logger = logging.getLogger(STEP_LOGGER)
            step_logger.setLevel(logging.INFO)
            step_logger.propagate = False
            step_logger.addHandler(_handler)
        state.depth += 1
    try:
        yield
    finally:
        with state.lock:
            state.depth -= 1
            if state.depth == 0 and state.saved is not None:
                sys.stdout, sys.stderr = state.saved
                state.saved = None
                logging.getLogger().removeHandler(_handler)
                logging.getLogger(STEP_LOGGER).removeHandler(_handler)


@contextlib.contextmanager
def capturing(capture: Capture | None = None) -> Iterator[Capture]:
    """Send what this context prints and logs to ``capture`` (a new one by default)."""
    capture = capture or Capture()
    token = _current.set(capture)
    try:
        yield capture
    finally:
        _current.reset(token)
