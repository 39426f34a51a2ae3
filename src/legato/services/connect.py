"""How the services reach the store: reads through the light reader, writes through
``SqlStore``.

Every service takes a ``StoreSource``: settings (where the store is: a command line opens
the store for one call and closes it), or a store already open (a long-lived process, such
as the REST API to come, opens one and passes it to every call; it is left open). Either
way interfaces never open the store themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, Union, cast

if TYPE_CHECKING:
    from legato.store.reader import StoreReads
    from legato.store.sql_store import SqlStore


class StoreLocation(Protocol):
    """Where the store is: ``QuickSettings`` and ``Settings`` both say."""

    @property
    def store_url(self) -> str: ...

    @property
    def durability(self) -> str: ...


StoreSource = Union["StoreLocation", "SqlStore"]
"""Settings saying where the store is, or the store itself, open."""

ReadSource = Union["StoreLocation", "StoreReads"]
"""Settings saying where the store is, or an open store to read (``SqlStore`` or the light
``SqliteReader``)."""


def _location(source: object) -> StoreLocation | None:
    """The settings, when ``source`` is settings rather than an open store."""
    return cast("StoreLocation", source) if hasattr(source, "store_url") else None


@contextlib.contextmanager
def reading(source: ReadSource) -> Iterator[StoreReads]:
    """The store for reading: on an up-to-date SQLite store, the plain ``sqlite3`` driver
    (no SQLAlchemy), which is what makes listings answer at once; an open store as it is."""
    settings = _location(source)
    if settings is None:
        yield cast("StoreReads", source)
        return
    from legato.store.reader import open_reader

    with open_reader(settings.store_url, durability=settings.durability) as store:
        yield store


@contextlib.contextmanager
def writing(source: StoreSource) -> Iterator[SqlStore]:
    """The store for reading and writing (created or migrated when needed); an open store
    as it is."""
    settings = _location(source)
    if settings is None:
        yield cast("SqlStore", source)
        return
    from legato.store.sql_store import SqlStore

    with SqlStore(settings.store_url, durability=settings.durability) as store:
        yield store


def store_exists(source: StoreSource) -> bool:
    """False only for a SQLite store whose file is not there yet (listing never creates
    one); an open store exists."""
    settings = _location(source)
    if settings is None:
        return True
    from legato.store.dialects import sqlite_path

    path = sqlite_path(settings.store_url)
    return path is None or path.exists()
