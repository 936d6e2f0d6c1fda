"""Schema migrations (Alembic), run from code: ``upgrade(url)`` is ``clearway db upgrade``.

The migration scripts ship inside the package (``clearway/storage/migrations``), so an
installed clearway can migrate its database without an ``alembic.ini`` in the working
directory. Add a revision with::

    .venv/bin/python -m clearway.storage.migrate revision "what changed"

then read the generated file: autogenerate misses renames and data moves.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from clearway.errors import StorageError
from clearway.storage.db import make_engine, redact

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations (no ini file)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "clearway ships at least one migration"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str | None = None, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database at ``url`` to ``revision``; a no-op when it is there already.

    Returns
    -------
    (before, after)
        The revisions before and after (``before`` is ``None`` for a new database).

    Raises
    ------
    StorageError
        The database cannot be reached (see :func:`~clearway.storage.db.make_engine`).
    """
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        cfg = alembic_config()
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        return before, current_revision(engine) or ""
    finally:
        engine.dispose()


def require_current(engine: Engine) -> None:
    """Refuse a database whose schema is not the one this code was written for.

    Raises
    ------
    StorageError
        Never migrated, or at another revision; the message gives the command that fixes it.
    """
    have, want = current_revision(engine), head_revision()
    if have != want:
        state = "has no clearway schema" if have is None else f"is at revision {have}"
        raise StorageError(
            f"database {redact(engine.url)} {state}, this clearway needs {want}; run "
            f"`clearway db upgrade --db URL` first"
        )


def _revision(message: str) -> None:  # developer tool, not part of the CLI
    engine = make_engine()
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 3 or sys.argv[1] != "revision":
        raise SystemExit('usage: python -m clearway.storage.migrate revision "message"')
    _revision(sys.argv[2])
