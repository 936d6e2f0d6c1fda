"""Positions as the field sends them: GPS heading and accuracy, and the sender's UTC time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # edge_id, offset_m, lon and lat are nullable since 0001: a position is a road place or
    # a GPS fix; the fix may carry a heading and an accuracy, and any position a UTC stamp.
    with op.batch_alter_table("priority_positions") as batch:
        batch.add_column(sa.Column("heading_deg", sa.Double(), nullable=True))
        batch.add_column(sa.Column("accuracy_m", sa.Double(), nullable=True))
        batch.add_column(sa.Column("measured_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("priority_positions") as batch:
        batch.drop_column("measured_at")
        batch.drop_column("accuracy_m")
        batch.drop_column("heading_deg")
