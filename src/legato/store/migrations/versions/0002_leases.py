"""Durable execution: a run's lease (owner, fencing token, expiry), its idempotency key and
the value its flow returned.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(128)))
        batch.add_column(sa.Column("lease_token", sa.Integer))
        batch.add_column(sa.Column("lease_expires_at", sa.Float))
        batch.add_column(sa.Column("idempotency_key", sa.String(255)))
        batch.add_column(sa.Column("output_value_id", sa.String(600)))
    op.create_index("ix_runs_idempotency_key", "runs", ["idempotency_key"], unique=True)
    op.create_index("ix_runs_status_lease", "runs", ["status", "lease_expires_at"])


def downgrade() -> None:
    raise NotImplementedError("legato never migrates a store down")
