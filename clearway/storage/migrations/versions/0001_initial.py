"""Initial schema: audit chain, users and API keys, priority requests and positions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

#: sha256 of nothing before the first record: the chain starts from 64 zeros.
GENESIS_HASH = "0" * 64
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The one row every append locks; it exists before the first append so that two first
    # appends cannot both create it.
    op.bulk_insert(head, [{"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}])

    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", UTC_TIME, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=True),
        sa.Column("junction_id", sa.String(length=256), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_records")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_records_hash")),
    )
    for column in ("junction_id", "kind", "principal", "recorded_at", "request_id"):
        op.create_index(op.f(f"ix_audit_records_{column}"), "audit_records", [column])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            "role IN ('viewer', 'dispatcher', 'operator', 'admin')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("revoked_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"])

    op.create_table(
        "priority_requests",
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=True),
        sa.Column("requester_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("created_s", sa.Double(), nullable=True),
        sa.Column("last_heard_s", sa.Double(), nullable=True),
        sa.Column("last_position_seq", sa.Integer(), nullable=False),
        sa.Column("last_position_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_priority_requests")),
    )
    for column in ("incident_id", "principal", "requester_id", "status"):
        op.create_index(op.f(f"ix_priority_requests_{column}"), "priority_requests", [column])

    op.create_table(
        "priority_positions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTC_TIME, nullable=False),
        sa.Column("time_s", sa.Double(), nullable=False),
        sa.Column("edge_id", sa.String(length=256), nullable=True),
        sa.Column("offset_m", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("speed_mps", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["priority_requests.request_id"],
            name=op.f("fk_priority_positions_request_id_priority_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_priority_positions")),
        sa.UniqueConstraint("request_id", "seq", name=op.f("uq_priority_positions_request_id_seq")),
    )
    op.create_index(
        op.f("ix_priority_positions_recorded_at"), "priority_positions", ["recorded_at"]
    )


def downgrade() -> None:
    for table in (
        "priority_positions",
        "priority_requests",
        "api_keys",
        "users",
        "audit_records",
        "audit_head",
    ):
        op.drop_table(table)
