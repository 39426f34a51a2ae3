"""SQLite store files with the standard library alone: the URL's file, read-only
connections, and the words for a driver error.

The read path of the CLI (``store/reader.py``) uses only this module, so that listing runs
loads neither SQLAlchemy nor a PostgreSQL driver; ``dialects.py`` builds on it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from legato.errors import StoreError

_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


def plain_sqlite_file(url: str) -> Path | None:
    """The database file of a plain SQLite URL (``sqlite:////abs/legato.db``, no query, no
    %-escapes), read without SQLAlchemy; None for any other URL, which SQLAlchemy reads."""
    for prefix in _PREFIXES:
        if url.startswith(prefix):
            database = url[len(prefix):]
            if database and database != ":memory:" and not set("%?") & set(database):
                return Path(database)
    return None


def is_read_only_file(path: Path) -> bool:
    """A store file in a folder this process cannot write (see
    ``dialects.is_read_only_sqlite``)."""
    return path.is_file() and path.stat().st_size > 0 and not os.access(path.parent, os.W_OK)


def connect_sqlite_read_only(path: Path) -> sqlite3.Connection:
    """A connection that only reads ``path``, in a folder nobody writes (``immutable``:
    SQLite then needs no lock and no ``-shm`` file). If a ``-wal`` file holds commits not
    yet copied into the database, it is read too (``mode=ro``, which needs its ``-shm``)."""
    wal = path.with_name(path.name + "-wal")
    mode = "mode=ro" if wal.exists() and wal.stat().st_size > 0 else "immutable=1"
    return sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True,
                           check_same_thread=False)


def describe_store_error(message: str, where: object) -> StoreError:
    """A driver's error message as a ``StoreError`` that names the store and the fix."""
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return StoreError(
            f"cannot write the legato store at {where}: {message}",
            hint="make the folder and the files in it writable, or point LEGATO_HOME / "
            "LEGATO_DATABASE_URL somewhere writable",
        )
    if "disk is full" in lowered or "no space" in lowered or "database or disk is full" in lowered:
        return StoreError(
            f"the legato store at {where} is full: {message}",
            hint="free some disk space; nothing already committed was lost",
        )
    if "disk i/o error" in lowered:  # SQLite's word for a write refused by the file system
        return StoreError(
            f"cannot write the legato store at {where}: {message}",
            hint="the disk may be full, over a quota or failing: free some space or check the "
            "device; nothing already committed was lost",
        )
    if "file is not a database" in lowered or "malformed" in lowered:
        return StoreError(
            f"the file at {where} is not a legato store, or it is damaged: {message}",
            hint="point LEGATO_HOME / LEGATO_DATABASE_URL at the store, or move this file "
            "away (sqlite3's .recover command may save the rows of a damaged store)",
        )
    if "connection" in lowered and "refused" in lowered:
        return StoreError(
            f"cannot connect to the store at {where}: {message}",
            hint="is the database server running and LEGATO_DATABASE_URL right?",
        )
    return StoreError(f"store error at {where}: {message}")
