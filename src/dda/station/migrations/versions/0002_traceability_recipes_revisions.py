"""traceability, recipes, threshold revisions, image statistics, storage policy

Results get the part (part_id, serial, lot), the recipe and the model's dataset version, and the
brightness/sharpness the drift alarm compares; workflows get a threshold override, recipes, the
active recipe, a revision number and a storage policy (sample of normal parts, retention);
workflow_revisions keeps the audit trail of those settings.

Revision ID: 0002_traceability
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_traceability"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESULT_COLUMNS = ("part_id", "serial", "lot", "recipe", "dataset_version", "brightness", "sharpness")
WORKFLOW_COLUMNS = ("threshold", "recipes", "active_recipe", "revision", "storage")


def upgrade() -> None:
    with op.batch_alter_table("inference_results") as batch:
        batch.add_column(sa.Column("part_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("serial", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("lot", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("recipe", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("dataset_version", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("brightness", sa.Float(), nullable=True))
        batch.add_column(sa.Column("sharpness", sa.Float(), nullable=True))
        batch.create_index("ix_inference_results_part_id", ["part_id"])
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(sa.Column("threshold", sa.Float(), nullable=True))
        batch.add_column(sa.Column("recipes", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("active_recipe", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("storage", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "workflow_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_revisions_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_revisions")),
    )
    op.create_index(
        op.f("ix_workflow_revisions_workflow_id"), "workflow_revisions", ["workflow_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_workflow_revisions_workflow_id"), table_name="workflow_revisions")
    op.drop_table("workflow_revisions")
    with op.batch_alter_table("workflows") as batch:
        for column in WORKFLOW_COLUMNS:
            batch.drop_column(column)
    with op.batch_alter_table("inference_results") as batch:
        batch.drop_index("ix_inference_results_part_id")
        for column in RESULT_COLUMNS:
            batch.drop_column(column)
