"""The run queue and the scheduler: queued runs (priority, partition, trigger, backfill),
partitioned materializations, trigger cursors and their tick history, backfills, and the
lease of a singleton daemon.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("partition_key", sa.String(255)))
        batch.add_column(sa.Column("trigger_key", sa.String(255)))
        batch.add_column(sa.Column("backfill_id", sa.String(32)))
        batch.add_column(sa.Column("started_at", sa.Float))
    op.create_index("ix_runs_queue", "runs", ["status", "priority", "created_at"])
    op.create_index("ix_runs_backfill", "runs", ["backfill_id", "partition_key"])
    with op.batch_alter_table("materializations") as batch:
        batch.add_column(sa.Column("partition_key", sa.String(255)))
    op.create_index("ix_materializations_partition", "materializations",
                    ["asset_key", "partition_key", "created_at"])
    op.create_table(
        "triggers",
        sa.Column("trigger_key", sa.String(255), primary_key=True),
        sa.Column("cursor", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("paused", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("last_evaluated_at", sa.Float),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        "trigger_ticks",
        sa.Column("tick_id", Id, primary_key=True, autoincrement=True),
        sa.Column("trigger_key", sa.String(255), nullable=False),
        sa.Column("tick_key", sa.String(255)),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_trigger_ticks_trigger", "trigger_ticks", ["trigger_key", "tick_id"])
    op.create_table(
        "backfills",
        sa.Column("backfill_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("max_concurrent", sa.Integer, nullable=False),
        sa.Column("total", sa.BigInteger),
        sa.Column("cursor", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "daemons",
        sa.Column("role", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("legato never migrates a store down")
