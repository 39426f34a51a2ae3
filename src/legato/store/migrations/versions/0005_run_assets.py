"""Every asset of an asset run, so that ``legato runs -t KEY`` finds the runs that built
KEY: ``runs.target`` names at most eight assets (``12 assets`` beyond), so the whole
selection goes in ``runs.assets`` as ``,a,b,c,``. Existing runs are filled in from their
target, or, past eight assets, from the selection their first event recorded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COUNTED = re.compile(r"\d+ assets")
"""A target that counts its assets instead of naming them."""


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("assets", sa.Text))
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE runs SET assets = ',' || target || ',' "
                         "WHERE kind = 'assets'"))
    counted = [row.run_id for row in bind.execute(sa.text(
        "SELECT run_id, target FROM runs WHERE kind = 'assets'"))
        if COUNTED.fullmatch(row.target)]
    for run_id in counted:
        selection = _selection(bind, run_id)
        if selection:
            bind.execute(sa.text("UPDATE runs SET assets = :assets WHERE run_id = :run_id"),
                         {"assets": "," + ",".join(selection) + ",", "run_id": run_id})


def _selection(bind: sa.Connection, run_id: str) -> list[str]:
    """The asset keys the run's first ``run_queued`` or ``run_started`` event recorded."""
    rows = bind.execute(sa.text(
        "SELECT data FROM events WHERE run_id = :run_id "
        "AND kind IN ('run_queued', 'run_started') ORDER BY event_id"), {"run_id": run_id})
    for row in rows:
        selection = json.loads(row.data).get("selection")
        if selection:
            return [str(key) for key in selection]
    return []


def downgrade() -> None:
    raise NotImplementedError("legato never migrates a store down")
