"""one outbound allow-list: webhook outputs lose their own ``allow_private`` switch

A stored webhook output that carried ``allow_private`` keeps working against public receivers; a
receiver on the local network is then refused when the workflow starts, with an error that names
the fix (an admin puts its host or network on the outbound allow-list, PUT /api/v1/settings).
The switch is not carried over into the allow-list: an operator's config must not widen what only
an admin decides.

Revision ID: 0004_one_outbound_allow_list
Revises: 0003_station_security
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004_one_outbound_allow_list"
down_revision: str | None = "0003_station_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

workflows = sa.table("workflows", sa.column("id", sa.Integer), sa.column("outputs", sa.JSON))


def _without_switch(outputs: list[Any]) -> list[Any]:
    return [
        {k: v for k, v in o.items() if k != "allow_private"} if isinstance(o, dict) else o for o in outputs
    ]


def upgrade() -> None:
    bind = op.get_bind()
    for row_id, outputs in bind.execute(sa.select(workflows.c.id, workflows.c.outputs)).all():
        if not isinstance(outputs, list):
            continue
        cleaned = _without_switch(outputs)
        if cleaned != outputs:
            bind.execute(workflows.update().where(workflows.c.id == row_id).values(outputs=cleaned))


def downgrade() -> None:
    pass  # the switch is gone for good; older code reads configs without it (default False)
