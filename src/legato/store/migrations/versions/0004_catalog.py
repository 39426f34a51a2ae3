"""The definitions catalog: snapshots of the definitions' metadata, by content hash, and
the current snapshot of each code location (where definitions are loaded from).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_snapshots",
        sa.Column("snapshot_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "catalog_locations",
        sa.Column("location", sa.String(1024), primary_key=True),
        sa.Column("snapshot_hash", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
        sa.Column("stamp", sa.String(64)),
    )


def downgrade() -> None:
    raise NotImplementedError("legato never migrates a store down")
