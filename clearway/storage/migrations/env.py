"""Alembic environment of clearway's schema, run by :func:`clearway.storage.migrate.upgrade`.

The engine comes from :func:`clearway.storage.db.make_engine`, so migrations see the same
SQLite set-up (real transactions, foreign keys) as the application. SQLite alters tables
in batch mode (copy and rename), the only way it can change a column.
"""

from __future__ import annotations

from alembic import context

from clearway.storage.db import make_engine
from clearway.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("clearway migrations run online only: clearway db upgrade --db URL")
run_migrations_online()
