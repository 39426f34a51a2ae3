"""Everything that differs between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.pool import NullPool

from legato.errors import StoreError
from legato.store.ports import Capabilities
from legato.store.sqlite_files import (
    connect_sqlite_read_only,
    describe_store_error,
    is_read_only_file,
)

BUSY_TIMEOUT_S = 60.0
T = TypeVar("T")


def capabilities_for(dialect_name: str) -> Capabilities:
    """What a store on this database can do (``store/ports.py``)."""
    if dialect_name == "postgresql":
        return Capabilities(listen_notify=True, skip_locked=True, concurrent_schedulers=True,
                            idle_poll_max_s=0.1)
    return Capabilities(listen_notify=False, skip_locked=False, concurrent_schedulers=False,
                        idle_poll_max_s=0.02)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def is_read_only_sqlite(url: str) -> bool:
    """A SQLite store in a folder this process cannot write (a read-only file system, a
    folder of another user's): it can be read, never written or migrated. SQLite cannot
    open a WAL database there in its usual mode (it needs to create the ``-shm`` file)."""
    path = sqlite_path(url)
    return path is not None and is_read_only_file(path)


def create_store_engine(url: str, *, durability: str, read_only: bool = False) -> Engine:
    """An engine whose connections are set up for legato: WAL, busy timeout, and explicit
    transactions on SQLite; psycopg 3 on PostgreSQL. ``read_only`` (SQLite in a folder that
    cannot be written): connections that only read."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is None:
            raise StoreError(
                "an in-memory SQLite store cannot be shared between the engine and its readers",
                hint="use a file, e.g. sqlite:////tmp/legato.db",
            )
        if read_only:
            return create_engine("sqlite+pysqlite://", poolclass=NullPool,
                                 creator=lambda: connect_sqlite_read_only(path))
        engine = create_engine(
            parsed.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
            poolclass=NullPool,
        )
        synchronous = "FULL" if durability == "full" else "NORMAL"

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            configure_sqlite(dbapi_connection, synchronous)

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True, pool_size=4, max_overflow=8)
        except ModuleNotFoundError:
            raise StoreError(
                "PostgreSQL needs the psycopg driver",
                hint="pip install 'legato[postgres]'",
            ) from None
    raise StoreError(
        f"unsupported store URL {url!r}",
        hint="use sqlite:///path/to/legato.db or postgresql+psycopg://user@host/db",
    )


def configure_sqlite(connection: sqlite3.Connection, synchronous: str) -> None:
    connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode and str(mode[0]).lower() != "wal":
        raise StoreError(f"SQLite refused WAL mode (journal_mode is {mode[0]})")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    connection.execute("PRAGMA foreign_keys = OFF")


def compile_dialect(engine: Engine) -> Dialect:
    """The dialect whose paramstyle matches the raw DBAPI connection the writer uses."""
    if engine.dialect.name == "sqlite":
        return sqlite.dialect(paramstyle="named")
    return engine.dialect


_compiled: dict[tuple[Callable[..., Any], str], Any] = {}


def compiled_once(build: Callable[[Any], T], store: Any) -> T:
    """``build(store)`` (statements compiled for the store's dialect), built once per
    dialect and kept: compiling costs milliseconds, executing microseconds."""
    key = (build, store.dialect)
    found = _compiled.get(key)
    if found is None:
        found = _compiled[key] = build(store)
    return found


def insert_for(dialect_name: str) -> Callable[..., Any]:
    """The INSERT construct that supports ON CONFLICT on this dialect."""
    if dialect_name == "sqlite":
        return sqlite.insert
    from sqlalchemy.dialects import postgresql  # loaded only for PostgreSQL stores

    return postgresql.insert


def begin_write(connection: Any, dialect_name: str) -> None:
    """Start a write transaction that waits for other writers instead of failing later."""
    if dialect_name == "sqlite":
        connection.execute("BEGIN IMMEDIATE")


@contextlib.contextmanager
def migration_lock(engine: Engine, url: str) -> Iterator[None]:
    """Only one process opens (and migrates) a SQLite store, or migrates a PostgreSQL one,
    at a time."""
    if engine.dialect.name == "sqlite":
        path = sqlite_path(url)
        assert path is not None
        lock = path.with_name(path.name + ".migrate-lock")
        try:
            handle = open(lock, "a")  # noqa: SIM115 - closed below, after the lock is held
        except OSError as error:
            raise StoreError(
                f"cannot write the legato store at {path}: {error.strerror} ({lock})",
                hint="make the folder writable, or point LEGATO_HOME / LEGATO_DATABASE_URL "
                "somewhere writable",
            ) from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(741741)"))
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(741741)"))
                connection.commit()


def describe_db_error(error: BaseException, url: str) -> StoreError:
    """Turn a driver error into a message that names the store and the fix."""
    message = str(getattr(error, "orig", None) or error)
    where = sqlite_path(url) or make_url(url).render_as_string(hide_password=True)
    return describe_store_error(message, where)
