"""How the services open the store: reads through the light reader, writes through
``SqlStore``. Interfaces pass their settings and never open the store themselves."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from legato.store.reader import StoreReads
    from legato.store.sql_store import SqlStore


class StoreLocation(Protocol):
    """Where the store is: ``QuickSettings`` and ``Settings`` both say."""

    @property
    def store_url(self) -> str: ...

    @property
    def durability(self) -> str: ...


@contextlib.contextmanager
def reading(settings: StoreLocation) -> Iterator[StoreReads]:
    """The store for reading: on an up-to-date SQLite store, the plain ``sqlite3`` driver
    (no SQLAlchemy), which is what makes listings answer at once."""
    from legato.store.reader import open_reader

    with open_reader(settings.store_url, durability=settings.durability) as store:
        yield store


@contextlib.contextmanager
def writing(settings: StoreLocation) -> Iterator[SqlStore]:
    """The store for reading and writing (created or migrated when needed)."""
    from legato.store.sql_store import SqlStore

    with SqlStore(settings.store_url, durability=settings.durability) as store:
        yield store


def store_exists(settings: StoreLocation) -> bool:
    """False only for a SQLite store whose file is not there yet (listing never creates
    one)."""
    from legato.store.dialects import sqlite_path

    path = sqlite_path(settings.store_url)
    return path is None or path.exists()
