"""The one way a view (or a list of views) becomes JSON-able data."""

from __future__ import annotations

import dataclasses
import math
from typing import Any


def to_json(data: Any) -> Any:
    """A view, a list of views or plain data as JSON-able data: views as objects of their
    fields, tuples as lists, and non-finite floats as null (strict parsers reject them)."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return {f.name: to_json(getattr(data, f.name)) for f in dataclasses.fields(data)}
    if isinstance(data, dict):
        return {str(key): to_json(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [to_json(item) for item in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data
