"""The ``transit`` role: a transit operator's system, which may only feed its buses.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_OLD = "role IN ('viewer', 'dispatcher', 'operator', 'admin')"
_NEW = "role IN ('viewer', 'dispatcher', 'operator', 'admin', 'transit')"


def _set_role_check(check: str) -> None:
    bind = op.get_bind()
    keys = None
    if bind.dialect.name == "sqlite":
        # SQLite changes a CHECK by copying the table and dropping the old one; with foreign
        # keys on (as clearway runs it) that drop cascades to every API key, so they are
        # kept aside and put back (same rows, same user ids).
        keys = [dict(r._mapping) for r in bind.execute(sa.text("SELECT * FROM api_keys"))]
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role"), check)
    if keys:
        present = {r[0] for r in bind.execute(sa.text("SELECT key_id FROM api_keys"))}
        missing = [k for k in keys if k["key_id"] not in present]
        if missing:
            cols = list(missing[0])
            bind.execute(
                sa.text(
                    f"INSERT INTO api_keys ({', '.join(cols)}) "
                    f"VALUES ({', '.join(':' + c for c in cols)})"
                ),
                missing,
            )


def upgrade() -> None:
    _set_role_check(_NEW)


def downgrade() -> None:
    # Refused (the CHECK fails) while a transit user exists: remove it first.
    _set_role_check(_OLD)
