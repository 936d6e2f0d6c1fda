"""Engines and sessions from a database URL: a SQLite file by default, PostgreSQL by URL.

``sqlite:///path/clearway.db`` (the default is ``sqlite:///clearway.db`` in the working
directory, or ``$CLEARWAY_DB_URL``) or ``postgresql+psycopg://user:password@host:5432/db``
(a bare ``postgresql://`` is taken to mean psycopg 3, the driver clearway ships with).

SQLite runs in WAL mode with foreign keys on; its driver's own transaction handling is
switched off so that every transaction really starts with ``BEGIN`` (a SELECT outside a
transaction would see a different snapshot than the write after it), and a *write session*
starts with ``BEGIN IMMEDIATE``: the one-writer lock is taken before anything is read, which
is what keeps concurrent audit appends from forking the hash chain.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from clearway.errors import StorageError

DB_URL_ENV = "CLEARWAY_DB_URL"
DEFAULT_DB_URL = "sqlite:///clearway.db"
#: How long a SQLite writer waits for another one to finish before giving up (s).
SQLITE_BUSY_TIMEOUT_S = 30.0
#: How long connecting to a PostgreSQL server may take before the URL is called unreachable (s).
PG_CONNECT_TIMEOUT_S = 5

_BEGIN_OPTION = "clearway_begin"
_URL_HELP = (
    "use sqlite:///path/to/clearway.db or postgresql+psycopg://user:password@host:5432/dbname"
)


def resolve_db_url(url: str | None = None) -> str:
    """``url`` if given, else ``$CLEARWAY_DB_URL``, else ``sqlite:///clearway.db``."""
    return url or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


def redact(url: str | URL) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return str(url)


def parse_db_url(url: str | None = None) -> URL:
    """Parse and normalise a database URL.

    Raises
    ------
    StorageError
        Not a URL, or a database other than SQLite and PostgreSQL.
    """
    raw = resolve_db_url(url)
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise StorageError(f"not a database URL: {raw!r}; {_URL_HELP}") from None
    backend = parsed.get_backend_name()
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        # "postgres" is the spelling some hosts hand out; psycopg2 is not a dependency (and
        # the driver SQLAlchemy 2.0 picks by default), psycopg 3 speaks the same protocol.
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite", "postgresql"):
        raise StorageError(
            f"unsupported database {backend!r} in {redact(parsed)}; clearway runs on SQLite or "
            f"PostgreSQL: {_URL_HELP}"
        )
    return parsed


def make_engine(url: str | None = None, *, check: bool = True, echo: bool = False) -> Engine:
    """An engine for ``url`` (see :func:`resolve_db_url`), connected once to prove it works.

    Parameters
    ----------
    url
        Database URL; ``None`` takes ``$CLEARWAY_DB_URL`` or the default SQLite file.
    check
        Open one connection now, so a wrong URL fails here and not at the first request.
    echo
        Log every SQL statement (debugging).

    Raises
    ------
    StorageError
        The URL is malformed or unsupported, or the database cannot be reached; the message
        names the URL (password masked) and the driver's reason.
    """
    parsed = parse_db_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    else:
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        kwargs["pool_pre_ping"] = True  # a restarted server must not break the next request
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StorageError(f"cannot use database {redact(parsed)}: {exc}; {_URL_HELP}") from None
    if parsed.get_backend_name() == "sqlite":
        _sqlite_setup(engine)
    if check:
        check_connection(engine)
    return engine


def check_connection(engine: Engine) -> None:
    """Open and close one connection; :class:`StorageError` naming the URL if that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        hint = (
            "check that the directory exists and is writable"
            if engine.dialect.name == "sqlite"
            else "check host, port, database name, user and password, and that the server runs"
        )
        raise StorageError(f"cannot open database {redact(engine.url)}: {reason}; {hint}") from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def write_session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction that holds the database's write lock from its start on
    SQLite (``BEGIN IMMEDIATE``); committed on success, rolled back on an exception.

    On PostgreSQL this is an ordinary transaction; writers serialise on row locks instead.
    """
    with sessions() as session, session.begin():
        session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})
        yield session


def holds_write_lock(conn: Connection) -> bool:
    """Whether ``conn``'s transaction began with ``BEGIN IMMEDIATE`` (a
    :func:`write_session` on SQLite): it holds the one-writer lock already."""
    return conn.get_execution_options().get(_BEGIN_OPTION) == "IMMEDIATE"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see the module docstring).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL still survives a crash of the process (a SIGKILL loses no
            # committed transaction); only a power cut may lose the last commits. FULL would
            # sync the disk on every commit: most of a small write's cost.
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
