"""Encode a step's value, keep it (inline in the store or as a file) and load it back.

- JSON-able values (None, bool, numbers, strings, lists, dicts with string keys) are JSON;
  up to ``INLINE_LIMIT`` bytes they live in the store row, larger ones in a file.
- Polars, pandas and Arrow frames are Parquet files.
- Anything else is pickled (trusted local use; ``allow_pickle=False`` refuses it).

Files are written to a temporary name and renamed into place, so a crash never leaves a
torn file under a name that a committed record refers to.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from legato.errors import ValueStoreError
from legato.store.records import StoredValue
from legato.values.frames import describe_frame, frame_kind, read_parquet, write_parquet

INLINE_LIMIT = 256 * 1024
_SCALARS = (type(None), bool, int, float, str)


@dataclass(frozen=True, slots=True)
class ValueInfo:
    """What is known about a value's shape (for materializations)."""

    row_count: int | None = None
    columns: dict[str, str] | None = None


def is_plain_json(value: object, depth: int = 0) -> bool:
    """True when JSON round-trips the value exactly (no tuples, no non-string keys)."""
    kind = type(value)
    if kind in _SCALARS:
        return not (kind is float and value != value)  # NaN does not round-trip equal
    if depth > 100:
        return False
    if kind is list:
        return all(is_plain_json(v, depth + 1) for v in value)  # type: ignore[attr-defined]
    if kind is dict:
        return all(
            type(k) is str and is_plain_json(v, depth + 1)
            for k, v in value.items()  # type: ignore[attr-defined]
        )
    return False


def type_name(value: object) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


class ValueStore:
    def __init__(self, root: Path, *, allow_pickle: bool = True, fsync: bool = False) -> None:
        self.root = root
        self.allow_pickle = allow_pickle
        self.fsync = fsync

    def put(self, value_id: str, value: Any, io: str = "auto") -> tuple[StoredValue, ValueInfo]:
        """Encode and keep ``value``; raise ``ValueStoreError`` if it cannot be kept."""
        now = time.time()
        kind = frame_kind(value)
        if io in ("auto", "json") and kind is None and is_plain_json(value):
            text = json.dumps(value, separators=(",", ":"))
            data = text.encode()
            digest = hashlib.sha256(data).hexdigest()
            info = ValueInfo(row_count=len(value)) if isinstance(value, list) else ValueInfo()
            if len(data) <= INLINE_LIMIT:
                stored = StoredValue(value_id=value_id, format="json", type=type_name(value),
                                     inline=text, uri=None, size=len(data), digest=digest,
                                     created_at=now)
                return stored, info
            path = self._write_bytes(value_id, ".json", data)
            return StoredValue(value_id=value_id, format="json", type=type_name(value),
                               inline=None, uri=str(path), size=len(data), digest=digest,
                               created_at=now), info
        if io == "json":
            raise ValueStoreError(
                f"io='json' but the value is a {type_name(value)}, which JSON cannot hold "
                "exactly",
                hint="return dicts, lists, strings and numbers, or use io='auto'",
            )
        if kind is not None and io in ("auto", "parquet"):
            path = self._path(value_id, ".parquet")
            tmp = self._tmp(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_parquet(value, kind, tmp)
                self._publish(tmp, path)
            except OSError as error:
                tmp.unlink(missing_ok=True)
                raise self._os_error(path, error) from error
            rows, columns = describe_frame(value, kind)
            return StoredValue(value_id=value_id, format="parquet", type=f"{kind}",
                               inline=None, uri=str(path), size=path.stat().st_size,
                               digest=_file_digest(path), created_at=now), ValueInfo(rows, columns)
        if io == "parquet":
            raise ValueStoreError(
                f"io='parquet' but the value is a {type_name(value)}, not a Polars, pandas or "
                "Arrow frame",
                hint="return a dataframe, or use io='auto'",
            )
        if not self.allow_pickle:
            raise ValueStoreError(
                f"the value is a {type_name(value)}, which is neither JSON nor a dataframe, "
                "and pickling is disabled",
                hint="return JSON-able data or a dataframe, or set LEGATO_ALLOW_PICKLE=true "
                "for trusted local use",
            )
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            raise ValueStoreError(
                f"the value is a {type_name(value)}, which legato cannot store: {error}",
                hint="return JSON-able data (dicts, lists, strings, numbers), a dataframe, "
                "or an object that pickle can serialize",
            ) from None
        path = self._write_bytes(value_id, ".pickle", data)
        return StoredValue(value_id=value_id, format="pickle", type=type_name(value),
                           inline=None, uri=str(path), size=len(data),
                           digest=hashlib.sha256(data).hexdigest(), created_at=now), ValueInfo()

    def get(self, stored: StoredValue) -> Any:
        """Load a value back; a missing or damaged file raises ``ValueStoreError``."""
        if stored.inline is not None:
            return json.loads(stored.inline)
        if stored.uri is None:
            raise ValueStoreError(f"value {stored.value_id} has neither inline data nor a file")
        path = Path(stored.uri)
        try:
            if stored.format == "parquet":
                return read_parquet(stored.type, path)
            data = path.read_bytes()
        except FileNotFoundError:
            raise ValueStoreError(
                f"the file of value {stored.value_id} is missing: {path}",
                hint="it was deleted from the value store; run the step again",
            ) from None
        except Exception as error:
            raise ValueStoreError(f"cannot read value {stored.value_id} from {path}: {error}") \
                from error
        if hashlib.sha256(data).hexdigest() != stored.digest:
            raise ValueStoreError(
                f"the file of value {stored.value_id} is damaged (its checksum differs): {path}",
                hint="run the step again to write it anew",
            )
        if stored.format == "json":
            return json.loads(data)
        return pickle.loads(data)  # noqa: S301 - pickle is opt-in, for trusted local use

    def _path(self, value_id: str, suffix: str) -> Path:
        run_id, _, step_key = value_id.partition("/")
        return self.root / run_id / (quote(step_key, safe="") + suffix)

    @staticmethod
    def _tmp(path: Path) -> Path:
        return path.with_name(f".{path.name}.{os.getpid()}.tmp")

    def _write_bytes(self, value_id: str, suffix: str, data: bytes) -> Path:
        path = self._path(value_id, suffix)
        tmp = self._tmp(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(data)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            self._publish(tmp, path)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise self._os_error(path, error) from error
        return path

    def _publish(self, tmp: Path, path: Path) -> None:
        if self.fsync and tmp.suffix == ".tmp" and tmp.exists():
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)

    def _os_error(self, path: Path, error: OSError) -> ValueStoreError:
        return ValueStoreError(
            f"cannot write value file {path}: {error.strerror or error}",
            hint="make the value folder writable and free some space, or set "
            "LEGATO_VALUES_DIR elsewhere",
        )


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
