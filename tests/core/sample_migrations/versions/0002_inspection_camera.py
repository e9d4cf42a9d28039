"""Inspections: add a camera column with an index, widen image_key.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Batch mode: on SQLite this recreates the table (with its foreign key); elsewhere plain ALTERs.
    with op.batch_alter_table("inspections") as batch:
        batch.add_column(sa.Column("camera", sa.String(64), nullable=False, server_default="default"))
        batch.alter_column("image_key", type_=sa.String(1024), existing_nullable=False)
        batch.create_index("ix_inspections_camera", ["camera"])


def downgrade() -> None:
    with op.batch_alter_table("inspections") as batch:
        batch.drop_index("ix_inspections_camera")
        batch.alter_column("image_key", type_=sa.String(255), existing_nullable=False)
        batch.drop_column("camera")
