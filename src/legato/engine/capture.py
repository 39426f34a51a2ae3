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
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TextIO

from legato.engine.context import STEP_LOGGER

Line = tuple[float, str, int, str]  # at, stream, level, message
LogSink = Callable[[list[Line]], None]
"""Where a capture sends its lines a chunk at a time, while the step still runs."""

CHUNK_LINES = 2000
CHUNK_BYTES = 256 * 1024
"""A capture with a sink hands its lines over once it holds this many (or this much): a
chatty step's output is written in small commits as it goes, not in one huge commit at its
end, and its memory stays bounded. A step that prints less has its lines written with the
commit that ends it, as before."""

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
            level = logging.ERROR if stream == "stderr" else logging.INFO
            for line in complete:
                self.add((now, stream, level, line))
        if rest:
            if len(rest) > CHUNK_BYTES:  # a huge line without an end: keep it as a line
                self.add((time.time(), stream, logging.INFO, rest))
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
            self.add((time.time(), stream, logging.INFO, rest))
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
