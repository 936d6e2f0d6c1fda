"""Persistence: SQLAlchemy models, Alembic migrations and repositories (audit log, priority
requests and positions, users and API keys). SQLite file by default, PostgreSQL by URL.

The core (network, signals, state, control, monitor) never imports this package; the
service and the CLI wire it in.
"""
