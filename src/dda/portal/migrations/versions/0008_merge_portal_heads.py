"""merge the portal feature branches (data, registry, jobs, fleet) into one head

Revision ID: 0008_merge
Revises: 0004_data, 0005_registry, 0006_jobs, 0007_fleet
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008_merge"
down_revision: str | Sequence[str] | None = ("0004_data", "0005_registry", "0006_jobs", "0007_fleet")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
