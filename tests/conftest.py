"""Database fixtures shared by the storage and service tests: every test that asks for
``db_url`` runs on SQLite and on PostgreSQL.

Each test gets its own freshly migrated database, copied from a template migrated once per
pytest process (a SQLite file copy; ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so the
migrations run once and no test sees another's rows.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from clearway.bootstrap import STRICT_MONITOR_ENV
from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import upgrade
from tests.storage.pg import PG_URL_ENV, PgCluster

BACKENDS = ("sqlite", "postgresql")


# Every scenario any test runs (in this process or the ones it starts) fails if the
# independent safety monitor sees a violation under a clearway strategy.
os.environ[STRICT_MONITOR_ENV] = "1"


@pytest.fixture(autouse=True)
def _no_database_in_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A command or service a test starts without ``--db`` (or ``CLEARWAY_DB_URL``) would
    write ``sqlite:///clearway.db`` into the working folder, the checkout; it gets a throw-away
    file instead. Tests of the default itself unset the variable."""
    if "CLEARWAY_DB_URL" not in os.environ:
        db = tmp_path_factory.mktemp("default-db") / "clearway.db"
        monkeypatch.setenv("CLEARWAY_DB_URL", f"sqlite:///{db}")


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database (this process's own cluster)."""
    given = os.environ.get(PG_URL_ENV)
    if given:
        yield given
        return
    cluster = PgCluster()
    try:
        yield cluster.url
    finally:
        cluster.stop()


class PgDatabases:
    """Creates and drops databases on one server; ``template`` is migrated once."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url).set(drivername="postgresql+psycopg")
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.prefix = f"cw_{worker}_{os.getpid()}"
        self.template = f"{self.prefix}_tpl"
        self._exec(f'CREATE DATABASE "{self.template}"')
        upgrade(self.url(self.template))

    def url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, *, migrated: bool) -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        template = self.template if migrated else "template0"
        self._exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop(self, name: str) -> None:
        self._exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _exec(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))


@pytest.fixture(scope="session")
def pg_databases(pg_admin_url: str) -> Iterator[PgDatabases]:
    dbs = PgDatabases(pg_admin_url)
    yield dbs
    dbs.drop(dbs.template)
    dbs.admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("sqlite-template") / "clearway.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def _database(request, backend: str, tmp_path, *, migrated: bool) -> Iterator[str]:
    if backend == "sqlite":
        path = tmp_path / "clearway.db"
        if migrated:
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    dbs: PgDatabases = request.getfixturevalue("pg_databases")
    name = dbs.create(migrated=migrated)
    try:
        yield dbs.url(name)
    finally:
        dbs.drop(name)


@pytest.fixture
def db_url(request, backend: str, tmp_path) -> Iterator[str]:
    """A freshly migrated, empty database on ``backend``."""
    yield from _database(request, backend, tmp_path, migrated=True)


@pytest.fixture
def empty_db_url(request, backend: str, tmp_path) -> Iterator[str]:
    """A database with no schema at all on ``backend``."""
    yield from _database(request, backend, tmp_path, migrated=False)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
