"""Capture what a step prints and logs, per attempt, even with many steps in threads.

``sys.stdout``/``sys.stderr`` are replaced (once per run) by routers that send each write
to the capture of the step running in the current context, or through unchanged. A logging
handler does the same for log records.

Levels: a line written to stderr is stored as WARNING (it is often progress or a library's
notice, not an error; a failure is recorded as such with its traceback). Log records are
stored with their own level, from ``log_level`` (INFO by default) up: while a run is in
progress the root logger's level is lowered to ``log_level`` when it still has Python's
default (WARNING), and the handlers already on it get a filter that keeps what they saw
before; loggers that have a level of their own keep it.

The engine (which routes a run's output) and the executors (which run bodies inside a
capture, here or in a worker process) both use it, so it belongs to neither.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TextIO

Line = tuple[float, str, int, str]  # at, stream, level, message
LogSink = Callable[[list[Line]], None]
"""Where a capture sends its lines a chunk at a time, while the step still runs."""

CHUNK_LINES = 2000
CHUNK_BYTES = 256 * 1024
"""A capture with a sink hands its lines over once it holds this many (or this much): a
chatty step's output is written in small commits as it goes, not in one huge commit at its
end, and its memory stays bounded. A step that prints less has its lines written with the
commit that ends it, as before."""

STREAM_LEVELS = {"stdout": logging.INFO, "stderr": logging.WARNING}
"""The level a printed line is stored with: stderr is not an error by itself."""

USER_MODULE_PREFIX = "legato_user_"
"""The loader imports a project file under a generated module name starting with this; its
loggers (``logging.getLogger(__name__)``) are shown under the file's stem instead."""

_module_names: dict[str, str] = {}

STEP_LOGGER = "legato.step"
"""The logger of ``ctx.log`` (``engine/context.py``): its records are always captured."""

_current: ContextVar[Capture | None] = ContextVar("legato_capture", default=None)


def _size(text: str) -> int:
    """UTF-8 bytes of ``text`` (surrogates counted as escaped, as they are stored)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class Capture:
    """One attempt's output. With a ``limit`` (bytes), lines past it are counted and
    dropped, and a last line says how much was dropped. With a ``sink``, full chunks are
    handed over as they fill (the sink must not raise)."""

    __slots__ = ("_closed", "_full", "_held", "_partial", "dropped_lines", "kept", "limit",
                 "lines", "sink", "total")

    def __init__(self, limit: int | None = None, sink: LogSink | None = None) -> None:
        self.lines: list[Line] = []
        self._partial: dict[str, str] = {}
        self.limit = limit
        self.sink = sink
        self.kept = 0
        """Bytes of output kept (handed to the sink, or held in ``lines``)."""
        self.total = 0
        """Bytes of output in all, dropped included."""
        self.dropped_lines = 0
        self._held = 0  # bytes in self.lines
        self._closed = False
        self._full = False

    def write(self, stream: str, text: str) -> None:
        if self._closed:
            return
        if self._full:  # cheap: count, keep nothing
            if self._partial:
                text = self._partial.pop(stream, "") + text
            self.total += _size(text)
            self.dropped_lines += text.count("\n")
            return
        text = self._partial.pop(stream, "") + text
        if self.limit is not None and len(text) > self.limit - self.kept:
            # more than may be kept: split only the lines that may fit, count the rest
            cut = text.rfind("\n", 0, self.limit - self.kept) + 1
            dropped = text[cut:]
            self._lines(stream, text[:cut])
            self.total += _size(dropped)
            self.dropped_lines += dropped.count("\n") + (dropped[-1:] not in ("", "\n"))
            self._full = True
            return
        self._lines(stream, text)

    def _lines(self, stream: str, text: str) -> None:
        if not text:
            return
        *complete, rest = text.split("\n")
        if complete:
            now = time.time()
            level = STREAM_LEVELS.get(stream, logging.INFO)
            for line in complete:
                self.add((now, stream, level, line))
        if rest:
            if len(rest) > CHUNK_BYTES:  # a huge line without an end: keep it as a line
                self.add((time.time(), stream, STREAM_LEVELS.get(stream, logging.INFO), rest))
            else:
                self._partial[stream] = rest

    def add(self, line: Line) -> None:
        if self._closed:
            return
        size = _size(line[3]) + 1
        self.total += size
        if self._full or (self.limit is not None and self.kept + size > self.limit):
            self.dropped_lines += 1
            self._full = True  # no shorter line slips in later: the output is cut here
            return
        self.kept += size
        self._held += size
        self.lines.append(line)
        if self.sink is not None and (len(self.lines) >= CHUNK_LINES
                                      or self._held >= CHUNK_BYTES):
            self._hand_over()

    def _hand_over(self) -> None:
        chunk, self.lines, self._held = self.lines, [], 0
        sink = self.sink
        assert sink is not None
        token = _current.set(None)  # what writing the chunk logs is not the step's output
        try:
            sink(chunk)
        finally:
            _current.reset(token)

    def snapshot(self) -> list[Line]:
        """The lines so far (not yet handed over), while the step may still be writing."""
        return list(self.lines)

    def detach(self) -> list[Line]:
        """The lines not yet handed over; whatever is written from now on is dropped (a
        timed-out body left running in its thread)."""
        self._closed = True
        return list(self.lines)

    def finish(self) -> list[Line]:
        """The lines not yet handed over, the unfinished last ones included, then (when
        output was dropped) a line saying how much."""
        for stream, rest in list(self._partial.items()):
            self.add((time.time(), stream, STREAM_LEVELS.get(stream, logging.INFO), rest))
        self._partial.clear()
        if self._full:
            self.lines.append((time.time(), "stderr", logging.WARNING, truncation_notice(
                self.kept, self.total, self.dropped_lines, self.limit)))
        self._closed = True
        return self.lines


def truncation_notice(kept: int, total: int, dropped_lines: int, limit: int | None) -> str:
    """The marker that ends a capped attempt's output, with the sizes in bytes."""
    return (f"[legato] output truncated: {dropped_lines:,} line"
            f"{'s' if dropped_lines != 1 else ''} ({total - kept:,} bytes) dropped after the "
            f"first {kept:,} bytes; the attempt wrote {total:,} bytes in all (max_log_bytes "
            f"is {limit or 0:,}: raise LEGATO_MAX_LOG_BYTES to keep more)")


def hand_over(lines: list[Line], sink: LogSink | None) -> list[Line]:
    """Send all but the last chunk of ``lines`` to ``sink``, in chunks; the rest (at most
    one chunk) is returned, for the commit that ends the step. For lines captured where no
    sink could be reached (a worker process)."""
    if sink is None:
        return lines
    start, held = 0, 0
    for index, line in enumerate(lines):
        held += len(line[3]) + 1
        if (index + 1 - start >= CHUNK_LINES or held >= CHUNK_BYTES) and index + 1 < len(lines):
            sink(lines[start:index + 1])
            start, held = index + 1, 0
    return lines[start:]


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


def remember_module(globals_: dict[str, Any]) -> None:
    """Note the name to show for the loggers of the module whose globals these are (a
    project file loaded by path: its stem). Works where the module was sent by value to a
    worker process too, since ``__file__`` travels with the function."""
    name = globals_.get("__name__")
    if not isinstance(name, str) or not name.startswith(USER_MODULE_PREFIX):
        return
    if name not in _module_names:
        path = globals_.get("__file__")
        _module_names[name] = Path(path).stem if isinstance(path, str) else name
        module = sys.modules.get(name)
        if module is not None and not isinstance(path, str):
            _module_names[name] = Path(getattr(module, "__file__", "") or name).stem


def logger_name(name: str) -> str:
    """The name a user expects for a logger: a generated module name becomes the stem of
    the file it was loaded from (``etl`` for ``etl.py``), submodule parts kept."""
    if not name.startswith(USER_MODULE_PREFIX):
        return name
    head, dot, tail = name.partition(".")
    shown = _module_names.get(head)
    if shown is None:
        module = sys.modules.get(head)
        path = getattr(module, "__file__", None)
        shown = _module_names[head] = Path(path).stem if isinstance(path, str) else head
    return shown + dot + tail


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        if record.stack_info:
            message = f"{message}\n{self.formatStack(record.stack_info)}"
        return f"{logger_name(record.name)}: {message}"


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        capture = _current.get()
        if capture is not None:
            try:
                message = self.format(record)
            except Exception:
                message = str(record.msg)
            capture.add((record.created, "log", record.levelno, message))
        elif (record.levelno >= logging.WARNING and logging.lastResort is not None
              and logging.getLogger().handlers == [self]):
            # outside a step, with logging not configured: as Python does, to stderr
            logging.lastResort.handle(record)


_handler = _Handler()
_handler.setFormatter(_Formatter())  # "name: message"; the level is stored apart


class _SeenBefore(logging.Filter):
    """On a handler the user put on the root logger: pass only what it passed before the
    root's level was lowered for the capture."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


class _Routing:
    """How many runs route output now, and the streams to restore after the last."""

    lock = threading.Lock()
    depth = 0
    saved: tuple[TextIO, TextIO] | None = None
    level = logging.INFO  # log_level of the runs in progress
    root_level: int | None = None  # the root logger's level before it was lowered
    lowered_to: int | None = None
    filtered: list[tuple[logging.Handler, logging.Filter]] = []


def _lower_root(level: int) -> None:
    """Let records from ``level`` up reach the capture, when the root logger still has
    Python's default level; the user's handlers on it keep seeing what they saw."""
    state, root = _Routing, logging.getLogger()
    if root.level != logging.WARNING or level >= logging.WARNING:
        return  # configured by the user (or nothing to lower): theirs to decide
    state.root_level, state.lowered_to = root.level, level
    for handler in root.handlers:
        if handler is not _handler:
            seen = _SeenBefore(root.level)
            handler.addFilter(seen)
            state.filtered.append((handler, seen))
    root.setLevel(level)


def _restore_root() -> None:
    state, root = _Routing, logging.getLogger()
    if state.root_level is not None and root.level == state.lowered_to:
        root.setLevel(state.root_level)
    for handler, seen in state.filtered:
        handler.removeFilter(seen)
    state.filtered.clear()
    state.root_level = state.lowered_to = None


def parse_level(level: str | int) -> int:
    """``"INFO"``/``"debug"``/``20`` as a logging level number."""
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.strip().upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING, ERROR "
                         "or CRITICAL")
    return number


def routed_level() -> int:
    """The ``log_level`` of the runs in progress (sent along to worker processes)."""
    return _Routing.level


@contextlib.contextmanager
def routing(level: int = logging.INFO) -> Iterator[None]:
    """Route output to step captures while a run is in progress (nestable; the first,
    outermost one sets the level: ``log_level``)."""
    state = _Routing
    with state.lock:
        if state.depth == 0:
            state.saved = (sys.stdout, sys.stderr)
            sys.stdout = _Router("stdout", sys.stdout)
            sys.stderr = _Router("stderr", sys.stderr)
            state.level = level
            _lower_root(level)
            logging.getLogger().addHandler(_handler)
            step_logger = logging.getLogger(STEP_LOGGER)
            step_logger.setLevel(min(level, logging.INFO))
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
                _restore_root()


@contextlib.contextmanager
def capturing(capture: Capture | None = None) -> Iterator[Capture]:
    """Send what this context prints and logs to ``capture`` (a new one by default)."""
    capture = capture or Capture()
    token = _current.set(capture)
    try:
        yield capture
    finally:
        _current.reset(token)
