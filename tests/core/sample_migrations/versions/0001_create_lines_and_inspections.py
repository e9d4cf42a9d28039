"""Create lines and inspections.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "lines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
    )
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("line_id", sa.Integer, sa.ForeignKey("lines.id", ondelete="CASCADE"), nullable=False),
        sa.Column("image_key", sa.String(255), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inspections")
    op.drop_table("lines")
