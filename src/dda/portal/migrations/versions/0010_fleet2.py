"""fleet 2: heartbeat history buckets, the canary quality gate, reviewed labels of uploaded results

Revision ID: 0010_fleet2
Revises: 0008_merge
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_fleet2"
# The head when this branch was made; the coordinator chains it after 0009 at merge time.
down_revision: str | Sequence[str] | None = "0008_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("history_bucket", sa.JSON(), nullable=True))
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quality_gate", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("gate_report", sa.JSON(), nullable=True))
    with op.batch_alter_table("deployment_devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("baseline", sa.JSON(), nullable=True))
    with op.batch_alter_table("device_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_results", schema=None) as batch_op:
        batch_op.drop_column("review")
    with op.batch_alter_table("deployment_devices", schema=None) as batch_op:
        batch_op.drop_column("baseline")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("gate_report")
        batch_op.drop_column("quality_gate")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("history_bucket")
