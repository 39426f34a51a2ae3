"""The first schema: runs, steps, events, logs, stored values, materializations.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_runs_created", "runs", ["created_at"])
    op.create_index("ix_runs_target_created", "runs", ["target", "created_at"])
    op.create_table(
        "steps",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("step_key", sa.String(512), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("error", sa.Text),
        sa.Column("traceback", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("value_id", sa.String(600)),
        sa.Column("cache_key", sa.String(64)),
        sa.Column("upstream", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
    )
    op.create_index("ix_steps_cache_key", "steps", ["cache_key"])
    op.create_table(
        "events",
        sa.Column("event_id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step_key", sa.String(512)),
        sa.Column("attempt", sa.Integer),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_events_run", "events", ["run_id", "event_id"])
    op.create_table(
        "logs",
        sa.Column("log_id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step_key", sa.String(512), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("stream", sa.String(8), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_logs_run_step", "logs", ["run_id", "step_key", "log_id"])
    op.create_table(
        "stored_values",
        sa.Column("value_id", sa.String(600), primary_key=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("inline", sa.Text),
        sa.Column("uri", sa.Text),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "materializations",
        sa.Column("materialization_id", sa.String(600), primary_key=True),
        sa.Column("asset_key", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step_key", sa.String(512), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("code_version", sa.String(64), nullable=False),
        sa.Column("data_version", sa.String(64), nullable=False),
        sa.Column("value_id", sa.String(600), nullable=False),
        sa.Column("upstream", sa.Text, nullable=False),
        sa.Column("row_count", sa.BigInteger),
        sa.Column("columns", sa.Text),
    )
    op.create_index(
        "ix_materializations_asset", "materializations", ["asset_key", "created_at"]
    )


def downgrade() -> None:
    raise NotImplementedError("legato never migrates a store down")
