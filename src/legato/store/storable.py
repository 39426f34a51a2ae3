"""What text the store accepts, and how any ``str`` is made into such text: one boundary,
applied by the gate to every parameter of every row it writes (event data, step errors,
reasons and tracebacks, log lines, names and keys).

The policy, identical on SQLite and PostgreSQL:

- **Lone surrogates** cannot be encoded as UTF-8. Those that ``surrogateescape`` made from
  undecodable bytes (U+DC80..U+DCFF: what ``os.listdir`` returns for a file name that is not
  UTF-8) become the text ``\\xNN`` of their byte, as ``backslashreplace`` writes it:
  ``b"report-\\xff.csv".decode("utf-8", "surrogateescape")`` is stored as
  ``report-\\xff.csv`` (a backslash, then ``xff``). Any other surrogate becomes ``\\uNNNN``.
- **NUL** (U+0000), which PostgreSQL text and JSON cannot hold, becomes the text ``\\x00``.
- Every other string is stored unchanged, so storable text round-trips exactly.

The mapping is for display: it is not reversed on reading (``\\xff`` read back is four
characters). JSON is written with ``ensure_ascii``, so a surrogate or NUL in event data would
be stored as a ``\\udcff`` or ``\\u0000`` escape and come back unchanged on reading: the data is
made storable before it is encoded, so that it reads back the way the projections show it.

Cost: an ASCII string without NUL (nearly all of them) is passed by two C-level checks.
"""

from __future__ import annotations

import json
import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_JSON_UNSTORABLE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that surrogateescape could not decode
        return f"\\x{code - 0xDC00:02x}"
    if code == 0:
        return "\\x00"
    return f"\\u{code:04x}"


def storable_text(text: str) -> str:
    """``text`` as the store keeps it (see the module's policy); itself when storable."""
    if text.isascii():
        if "\x00" not in text:
            return text
    elif _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(_escape, text)


def is_storable(text: str) -> bool:
    return storable_text(text) is text


def storable(value: Any) -> Any:
    """``value`` with every string in it (keys too, in dicts, lists and tuples) made
    storable; the same object when nothing needed to change."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        items = [(storable(k), storable(v)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(),
                                                               strict=True)):
            return value
        return dict(items)
    if isinstance(value, list | tuple):
        converted = [storable(item) for item in value]
        if all(a is b for a, b in zip(converted, value, strict=True)):
            return value
        return converted
    return value


def storable_row(row: dict[str, Any]) -> dict[str, Any]:
    """Make every text parameter of one statement storable, in place; returns ``row``."""
    for value in row.values():  # the fast pass: nothing to change (nearly always)
        if value.__class__ is str and not (value.isascii() and "\x00" not in value):
            break
    else:
        return row
    for name, value in row.items():
        if isinstance(value, str):
            row[name] = storable_text(value)
    return row


def dumps(data: object) -> str:
    """JSON for a text column: compact, ASCII, and with no surrogate or NUL escapes (the
    strings they came from are made storable first)."""
    text = json.dumps(data, separators=(",", ":"), default=str)
    if "\\u" in text and _JSON_UNSTORABLE.search(text) is not None:
        # (rare) through the parsed JSON, which also covers strings that ``default=str``
        # made; a false alarm (a surrogate pair of an emoji) comes back unchanged
        text = json.dumps(storable(json.loads(text)), separators=(",", ":"))
    return text
