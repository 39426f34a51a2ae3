"""The one way a view (or a list of views) becomes JSON-able data.

Times: a view's field named ``at`` or ``*_at`` holds Unix seconds (a float, for Python
callers and arithmetic); in JSON it is ISO 8601 in UTC with microseconds and the zone,
``2026-12-03T18:54:34.123456+00:00`` (``datetime.fromisoformat``, JavaScript's
``new Date()`` and every JSON consumer read it; epoch floats are read by none at a glance).
Durations (``*_s``) stay seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any


def to_json(data: Any) -> Any:
    """A view, a list of views or plain data as JSON-able data: views as objects of their
    fields (times as ISO 8601, see the module's docstring), tuples as lists, and
    non-finite floats as null (strict parsers reject them)."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return {f.name: _field(f.name, getattr(data, f.name))
                for f in dataclasses.fields(data)}
    if isinstance(data, dict):
        return {str(key): to_json(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [to_json(item) for item in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def _field(name: str, value: Any) -> Any:
    return iso_time(value) if is_time(name, value) else to_json(value)


def is_time(name: str, value: object) -> bool:
    """Whether a view's field is a time in Unix seconds: named ``at`` or ``*_at``, and a
    number (a field of that name that is already text is left as it is)."""
    return ((name == "at" or name.endswith("_at")) and isinstance(value, int | float)
            and not isinstance(value, bool))


def iso_time(seconds: float) -> str | None:
    """Unix seconds as ISO 8601 in UTC (``2026-12-03T18:54:34.123456+00:00``); None for a
    time that is not finite."""
    if not math.isfinite(seconds):
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="microseconds")
