"""The one schema, for SQLite and PostgreSQL. Changes go through an Alembic migration.

``events`` is the append-only source of truth. ``runs``, ``steps`` and
``materializations`` are projections of it, written in the same transaction by the
transition gate (``store/gate.py``). ``stored_values`` and ``logs`` hold payloads
that events refer to. Times are seconds since the epoch (UTC), as floats.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    or_,
)
from sqlalchemy.sql.elements import ColumnElement

metadata = MetaData()

Id = BigInteger().with_variant(Integer(), "sqlite")

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # flow | assets | task
    Column("target", String(512), nullable=False),  # flow name, or the asset selection
    Column("status", String(16), nullable=False),
    Column("params", Text, nullable=False),  # JSON object
    Column("tags", Text, nullable=False),  # JSON list
    Column("source", Text),  # how the definitions were loaded: module:x | file:/p.py
    Column("created_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("error", Text),
    # the lease of whoever executes the run: owner (host:pid:nonce), fencing token (raised by
    # each takeover) and expiry (renewed by every write of the holder, and a heartbeat)
    Column("lease_owner", String(128)),
    Column("lease_token", Integer),
    Column("lease_expires_at", Float),
    Column("idempotency_key", String(255)),  # a second submission with it gets this run
    Column("output_value_id", String(600)),  # what the flow returned, when it could be kept
    # the run queue (migration 0003): a queued run waits for a worker to claim it
    Column("priority", Integer, nullable=False, server_default="0"),  # higher claimed first
    Column("partition_key", String(255)),  # the partition an asset run computes
    Column("trigger_key", String(255)),  # schedule:nightly, sensor:x, backfill:id, manual
    Column("backfill_id", String(32)),
    Column("started_at", Float),  # when it started, or a worker claimed it (created_at: requested)
    # an asset run's whole selection, ",a,b,c," (``target`` names at most eight), so that
    # ``legato runs -t b`` finds it (migration 0005); None for flows and tasks
    Column("assets", Text),
    Index("ix_runs_created", "created_at"),
    Index("ix_runs_target_created", "target", "created_at"),
    Index("ix_runs_idempotency_key", "idempotency_key", unique=True),
    Index("ix_runs_status_lease", "status", "lease_expires_at"),
    Index("ix_runs_queue", "status", "priority", "created_at"),
    Index("ix_runs_backfill", "backfill_id", "partition_key"),
)


def runs_of(target: str) -> ColumnElement[bool]:
    """The runs of flow (or task) ``target``, and those that built asset ``target``, named
    in their target or not (``runs.assets``); a LIKE wildcard in it matches only itself."""
    return or_(runs.c.target == target,
               runs.c.assets.contains(f",{target},", autoescape=True))

steps = Table(
    "steps",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("step_key", String(512), primary_key=True),
    Column("name", String(255), nullable=False),  # the task or asset name
    Column("kind", String(16), nullable=False),  # asset | task
    Column("seq", Integer, nullable=False),  # order in which the run created the step
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("error", Text),  # "ExceptionType: message" of the last failed attempt
    Column("traceback", Text),
    Column("reason", Text),  # why the step was skipped, canceled or fell back
    Column("value_id", String(600)),
    Column("cache_key", String(64)),
    Column("upstream", Text, nullable=False),  # JSON list of step keys
    Column("tags", Text, nullable=False),  # JSON list
    Index("ix_steps_cache_key", "cache_key"),
)

events = Table(
    "events",
    metadata,
    Column("event_id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False),
    Column("step_key", String(512)),
    Column("attempt", Integer),
    Column("kind", String(32), nullable=False),
    Column("at", Float, nullable=False),
    Column("data", Text, nullable=False),  # JSON object, versioned by kind
    Index("ix_events_run", "run_id", "event_id"),
)

logs = Table(
    "logs",
    metadata,
    Column("log_id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False),
    Column("step_key", String(512), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("stream", String(8), nullable=False),  # stdout | stderr | log
    Column("level", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_logs_run_step", "run_id", "step_key", "log_id"),
)

stored_values = Table(
    "stored_values",
    metadata,
    Column("value_id", String(600), primary_key=True),
    Column("format", String(16), nullable=False),  # json | parquet | pickle
    Column("type", String(255), nullable=False),  # the Python type, module.qualname
    Column("inline", Text),  # the JSON text, when small enough
    Column("uri", Text),  # else the file in the value store
    Column("size", BigInteger, nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 of the stored bytes
    Column("created_at", Float, nullable=False),
)

materializations = Table(
    "materializations",
    metadata,
    Column("materialization_id", String(600), primary_key=True),
    Column("asset_key", String(255), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("step_key", String(512), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("code_version", String(64), nullable=False),
    Column("data_version", String(64), nullable=False),
    Column("value_id", String(600), nullable=False),
    Column("upstream", Text, nullable=False),  # JSON {asset_key: materialization_id}
    Column("row_count", BigInteger),
    Column("columns", Text),  # JSON {column: type} when known
    Column("partition_key", String(255)),  # of a partitioned asset (migration 0003)
    Index("ix_materializations_asset", "asset_key", "created_at"),
    Index("ix_materializations_partition", "asset_key", "partition_key", "created_at"),
)

triggers = Table(
    # one row per trigger (schedule:x, sensor:y, ...): its cursor and whether it is paused.
    # ``version`` rises with every evaluation saved: a scheduler saves its evaluation only
    # if nobody saved one since it read the row (compare-and-set), in the same transaction
    # as the runs it enqueues
    "triggers",
    metadata,
    Column("trigger_key", String(255), primary_key=True),
    Column("cursor", Text),
    Column("version", Integer, nullable=False),
    Column("paused", Integer, nullable=False),  # 0 | 1
    Column("updated_at", Float, nullable=False),
    Column("last_evaluated_at", Float),
    Column("last_error", Text),  # the last failed evaluation (a sensor that raised)
)

trigger_ticks = Table(
    # what each evaluation did: runs requested, ticks skipped, failures (history)
    "trigger_ticks",
    metadata,
    Column("tick_id", Id, primary_key=True, autoincrement=True),
    Column("trigger_key", String(255), nullable=False),
    Column("tick_key", String(255)),
    Column("at", Float, nullable=False),
    Column("status", String(16), nullable=False),  # requested | skipped | failed
    Column("run_id", String(32)),
    Column("detail", Text),
    Index("ix_trigger_ticks_trigger", "trigger_key", "tick_id"),
)

backfills = Table(
    "backfills",
    metadata,
    Column("backfill_id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # flow | assets
    Column("target", String(512), nullable=False),
    Column("spec", Text, nullable=False),  # JSON: the partitions asked for, params, options
    Column("status", String(16), nullable=False),  # running | completed | failed | canceled
    Column("max_concurrent", Integer, nullable=False),
    Column("total", BigInteger),
    Column("cursor", Text),  # the last partition key enqueued: planning resumes after it
    Column("created_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("error", Text),
)

daemons = Table(
    # who runs a singleton daemon (the scheduler on SQLite), until when
    "daemons",
    metadata,
    Column("role", String(64), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

catalog_snapshots = Table(
    # the definitions catalog (migration 0004): what writer processes loaded, as canonical
    # JSON (``legato.definitions.catalog``), kept once per content hash (its sha256)
    "catalog_snapshots",
    metadata,
    Column("snapshot_hash", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),  # when it was first recorded
    Column("body", Text, nullable=False),
)

catalog_locations = Table(
    # the current snapshot of each code location: ``module:pkg.mod``, ``file:/p.py`` (as
    # ``runs.source``), or ``code`` for definitions built in code; several projects may
    # share a store
    "catalog_locations",
    metadata,
    Column("location", String(1024), primary_key=True),
    Column("snapshot_hash", String(64), nullable=False),
    Column("recorded_at", Float, nullable=False),  # when this snapshot became current
    # a digest of what the snapshot was built from, cheaper to compute than the snapshot
    # (files' sizes and times instead of code versions): equal, the snapshot is not built
    Column("stamp", String(64)),
)
