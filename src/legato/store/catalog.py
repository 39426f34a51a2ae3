"""The definitions catalog in the store: snapshots kept once per content hash, and the
current snapshot of each code location.

A snapshot is opaque text here: the canonical JSON that ``legato.definitions.catalog``
builds from loaded definitions and reads back (the store never imports definitions, nor
user code). A code location is where definitions were loaded from, spelled as
``runs.source`` (``module:pkg.mod``, ``file:/path.py``), or ``code`` for definitions built
in code; several projects may share one store, each with its own current snapshot.

``record_snapshot`` is what every writer process calls when it loads definitions, so it
must cost nothing when they did not change: one lookup by primary key, and no write. A
location's row also keeps a ``stamp``, a digest of what its snapshot was built from that is
cheaper to compute than the snapshot itself: a writer whose stamp is the stored one does
not build the snapshot at all.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # SQLAlchemy loads only for writes: the light reader reads this module
    from legato.store.gate import Statements
    from legato.store.sql_store import SqlStore


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogRow:
    """A code location's current snapshot: its hash, when it became current, its text."""

    location: str
    snapshot_hash: str
    recorded_at: float
    body: str


def canonical_json(data: Any) -> str:
    """The one text of a snapshot: keys sorted, no spaces, UTF-8 as is, no NaN."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def content_hash(text: str) -> str:
    """A snapshot's identity: the sha256 of its canonical JSON, in hex."""
    return hashlib.sha256(text.encode()).hexdigest()


CURRENT_SQL = (
    "SELECT catalog_locations.location, catalog_locations.snapshot_hash, "
    "catalog_locations.recorded_at, catalog_snapshots.body FROM catalog_locations "
    "JOIN catalog_snapshots ON catalog_snapshots.snapshot_hash = catalog_locations.snapshot_hash "
    "ORDER BY catalog_locations.location"
)
"""Every location's current snapshot (plain SQL: the light reader runs it too)."""


HEAD_SQL = ("SELECT snapshot_hash, stamp FROM catalog_locations "
            "WHERE location = :location")
"""A location's current snapshot: what a writer looks up when it loads definitions."""


def catalog_row(row: Any) -> CatalogRow:
    """A row of ``CURRENT_SQL`` (a mapping by column name)."""
    return CatalogRow(location=row["location"], snapshot_hash=row["snapshot_hash"],
                      recorded_at=float(row["recorded_at"]), body=row["body"])


class _CatalogSql:
    def __init__(self, store: SqlStore) -> None:
        from sqlalchemy import bindparam, update

        from legato.store import schema
        from legato.store.dialects import compile_dialect, insert_for

        snapshots, locations = schema.catalog_snapshots, schema.catalog_locations
        dialect = compile_dialect(store.engine)

        def sql(stmt: Any) -> str:
            return str(stmt.compile(dialect=dialect))

        upsert = insert_for(store.dialect)
        self.keep = sql(upsert(snapshots).values(
            snapshot_hash=bindparam("digest"), created_at=bindparam("now"),
            body=bindparam("body")).on_conflict_do_nothing(
            index_elements=[snapshots.c.snapshot_hash]))
        point = upsert(locations).values(location=bindparam("location"),
                                         snapshot_hash=bindparam("digest"),
                                         recorded_at=bindparam("now"))
        self.point = sql(point.on_conflict_do_update(
            index_elements=[locations.c.location],
            set_={"snapshot_hash": point.excluded.snapshot_hash,
                  "recorded_at": point.excluded.recorded_at},
            # a snapshot that is current already keeps the time it became so
            where=locations.c.snapshot_hash != point.excluded.snapshot_hash))
        self.restamp = sql(update(locations).where(locations.c.location == bindparam("location"))
                           .values(stamp=bindparam("stamp")))


def _sql(store: SqlStore) -> _CatalogSql:
    from legato.store.dialects import compiled_once

    return compiled_once(_CatalogSql, store)


@dataclass(frozen=True, slots=True)
class CatalogHead:
    """What a location's row says of its current snapshot: its hash, and the stamp of
    what it was built from (``legato.definitions.recording``)."""

    snapshot_hash: str
    stamp: str | None


_LOOK = CatalogHead("", None)


def current_head(store: SqlStore, location: str) -> CatalogHead | None:
    """The current snapshot of ``location``; None when it has none."""
    from sqlalchemy import text  # not the writes' statements: a lookup compiles nothing

    rows = store.read(text(HEAD_SQL).bindparams(location=location))
    return CatalogHead(str(rows[0].snapshot_hash), rows[0].stamp) if rows else None


def current_hash(store: SqlStore, location: str) -> str | None:
    """The hash of ``location``'s current snapshot; None when it has none."""
    head = current_head(store, location)
    return head.snapshot_hash if head is not None else None


def record_snapshot(store: SqlStore, location: str, digest: str, body: str, *,
                    stamp: str | None = None, head: CatalogHead | None = _LOOK) -> bool:
    """Make the snapshot ``body`` (whose sha256 is ``digest``) current for ``location``,
    with the ``stamp`` of what it was built from: True when it was not current (the
    snapshot is kept, unless a snapshot with this hash is kept already, and the location
    points to it), False when it was (nothing is written, unless only the stamp changed).
    ``head`` is the location's current snapshot when the caller just looked it up."""
    if head is _LOOK:
        head = current_head(store, location)
    if head is not None and (head.snapshot_hash, head.stamp) == (digest, stamp):
        return False
    q = _sql(store)
    params = {"location": location, "digest": digest, "body": body, "now": time.time(),
              "stamp": stamp}

    def work(cursor: Any, _statements: Statements) -> None:
        cursor.execute(q.keep, params)
        cursor.execute(q.point, params)
        cursor.execute(q.restamp, params)

    store.writer.transact(work, deferred_first=False)
    return head is None or head.snapshot_hash != digest


def read_current(store: SqlStore) -> list[CatalogRow]:
    """Every location's current snapshot, by location (``SqlStore.current_catalogs``)."""
    from sqlalchemy import text

    return [catalog_row(row._mapping) for row in store.read(text(CURRENT_SQL))]


def read_snapshot(store: SqlStore, digest: str) -> str | None:
    """The text of the snapshot with this hash, current or not; None when none is kept."""
    from sqlalchemy import select

    from legato.store import schema

    table = schema.catalog_snapshots
    rows = store.read(select(table.c.body).where(table.c.snapshot_hash == digest))
    return str(rows[0].body) if rows else None
