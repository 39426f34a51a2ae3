"""Encode a step's value, keep it (inline in the store or as a file) and load it back.

- JSON-able values (None, bool, numbers, strings, lists, dicts with string keys) are JSON;
  up to ``INLINE_LIMIT`` bytes they live in the store row, larger ones in a file.
- Polars, pandas and Arrow frames are Parquet files.
- Anything else is pickled (trusted local use; ``allow_pickle=False`` refuses it).

Files are written to a temporary name and linked into place under a name no other file
has, so a crash never leaves a torn file under a name that a committed record refers to,
and a late writer (a process whose run was taken over) never replaces a committed file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import pickle
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from legato import faults
from legato.errors import ValueStoreError
from legato.pids import pid_exists
from legato.store.records import StoredValue
from legato.values.frames import describe_frame, frame_kind, read_parquet, write_parquet

INLINE_LIMIT = 256 * 1024
STALE_TMP_S = 60.0
"""A temporary value file whose writer process is gone, unchanged this long, is removed."""
ABANDONED_TMP_S = 24 * 3600.0
"""A temporary value file unchanged this long is removed, whoever wrote it."""
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
        # NaN is not equal to itself, so it cannot round-trip equal
        return not (kind is float and math.isnan(value))  # type: ignore[arg-type]
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
            path = self._write_file(self._path(value_id, ".parquet"),
                                    lambda tmp: write_parquet(value, kind, tmp))
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
        data = None
        try:
            if stored.format == "parquet":  # checked here, then read by the frame library
                digest = _file_digest(path)
            else:
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
        except FileNotFoundError:
            raise self._missing(stored, path) from None
        except OSError as error:
            raise ValueStoreError(
                f"cannot read value {stored.value_id} from {path}: {error.strerror or error}"
            ) from error
        if digest != stored.digest:
            raise ValueStoreError(
                f"the file of value {stored.value_id} is damaged (its checksum differs): {path}",
                hint="run the step again to write it anew",
            )
        if data is None:
            try:
                return read_parquet(stored.type, path)
            except Exception as error:
                raise ValueStoreError(
                    f"cannot read value {stored.value_id} from {path}: {error}"
                ) from error
        if stored.format == "json":
            return json.loads(data)
        if not self.allow_pickle:
            raise ValueStoreError(
                f"value {stored.value_id} (a {stored.type}) is pickled, and pickling is "
                "disabled: loading a pickle runs code from the file",
                hint="set LEGATO_ALLOW_PICKLE=true if you trust the value folder, or run the "
                "step again to store it another way",
            )
        try:
            return pickle.loads(data)
        except Exception as error:
            raise ValueStoreError(
                f"cannot unpickle value {stored.value_id} (a {stored.type}): "
                f"{type(error).__name__}: {error}",
                hint="the code that defines its type changed or cannot be imported here; "
                "run the step again",
            ) from error

    def _path(self, value_id: str, suffix: str) -> Path:
        run_id, _, step_key = value_id.partition("/")
        return self.root / run_id / (quote(step_key, safe="") + suffix)

    @staticmethod
    def _tmp(path: Path) -> Path:
        return path.with_name(f".{path.name}.{os.getpid()}.tmp")

    def remove_stale_temporary_files(self, run_id: str) -> list[Path]:
        """Remove the temporary files that writers of ``run_id``'s values left behind when
        they died (a SIGKILL in the middle of a large value): those whose writer (named in
        the file name) is no longer alive on this host and which have not changed for
        ``STALE_TMP_S``, and any not changed for ``ABANDONED_TMP_S`` (a writer elsewhere,
        sharing the folder). A live writer's file is never touched. Returns what was
        removed; never raises."""
        removed: list[Path] = []
        folder = self.root / run_id
        try:
            candidates = [p for p in folder.iterdir() if p.name.startswith(".")
                          and p.name.endswith(".tmp")]
        except OSError:
            return removed
        now = time.time()
        for path in candidates:
            try:
                age = now - path.stat().st_mtime
                pid = int(path.name[:-len(".tmp")].rsplit(".", 1)[1])
            except (OSError, ValueError, IndexError):
                continue
            if age >= ABANDONED_TMP_S or (age >= STALE_TMP_S and not pid_exists(pid)):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
        return removed

    def _write_bytes(self, value_id: str, suffix: str, data: bytes) -> Path:
        def write(tmp: Path) -> None:
            if faults.ARMED:
                faults.torn_write(tmp, data)
            tmp.write_bytes(data)

        return self._write_file(self._path(value_id, suffix), write)

    def _write_file(self, path: Path, write: Callable[[Path], object]) -> Path:
        """Write through a temporary file linked into place: the final name only ever holds
        a whole file, an existing file is never replaced (the new one gets a name of its
        own), and a failed write leaves nothing behind. Returns the final name."""
        tmp = self._tmp(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(tmp)
            if self.fsync:
                _fsync(tmp)
            path = _link_new(tmp, path)
            if self.fsync:
                _fsync(path.parent)  # the new name itself
        except BaseException as error:  # Ctrl-C included: no temporary file stays behind
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise self._os_error(path, error) from error
            if not isinstance(error, Exception):
                raise
            if isinstance(error, ImportError):  # not the folder's fault: say what is missing
                raise ValueStoreError(
                    f"cannot store value file {path}: a module needed to write it cannot be "
                    f"imported ({type(error).__name__}: {error})",
                    hint=f"the Python environment is incomplete or this user cannot read it "
                    f"(uid {os.getuid() if hasattr(os, 'getuid') else '?'}); check that "
                    f"`{sys.executable} -c 'import {error.name or 'MODULE'}'` works as this "
                    "user, or install the missing package",
                ) from error
            raise ValueStoreError(  # e.g. polars reports a full disk as a ComputeError
                f"cannot write value file {path}: {error}",
                hint="make the value folder writable and free some space; if the frame holds "
                "Python objects that Parquet cannot store, convert them or use io='pickle'",
            ) from error
        return path

    def _missing(self, stored: StoredValue, path: Path) -> ValueStoreError:
        """Values are files on the disk of the process that wrote them: when even the
        run's folder is absent here, the value most likely came from another machine."""
        if not path.parent.exists():
            return ValueStoreError(
                f"the file of value {stored.value_id} is missing: {path} (its folder "
                "does not exist on this machine)",
                hint="values are files on the writing machine's disk: if workers run on "
                "several hosts, put the value folder on a filesystem they all mount and "
                "point LEGATO_VALUES_DIR at it (docs/serving.md); otherwise the folder was "
                "deleted, and running the step again writes the value anew",
            )
        return ValueStoreError(
            f"the file of value {stored.value_id} is missing: {path}",
            hint="it was deleted from the value store; run the step again",
        )

    def _os_error(self, path: Path, error: OSError) -> ValueStoreError:
        return ValueStoreError(
            f"cannot write value file {path}: {error.strerror or error}",
            hint="make the value folder writable and free some space, or set "
            "LEGATO_VALUES_DIR elsewhere",
        )


_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}


def _link_new(tmp: Path, path: Path) -> Path:
    """Give ``tmp`` the name ``path``, or ``stem.<random>.suffix`` when that is taken (an
    earlier attempt's file, perhaps committed), and drop the temporary name."""
    candidate = path
    while True:
        try:
            os.link(tmp, candidate)
            break
        except FileExistsError:
            candidate = path.with_name(f"{path.stem}.{secrets.token_hex(4)}{path.suffix}")
        except OSError as error:
            if error.errno not in _NO_HARD_LINKS:
                raise
            # a file system without hard links: rename, after checking the name is free
            if candidate.exists():
                candidate = path.with_name(f"{path.stem}.{secrets.token_hex(4)}{path.suffix}")
                continue
            os.replace(tmp, candidate)
            return candidate
    tmp.unlink()
    return candidate


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
