"""Engines from URLs (clear errors naming a bad one), and migrations that build exactly the
ORM's schema on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, Table, inspect, select, text

from clearway.errors import StorageError
from clearway.storage.db import make_engine, parse_db_url, resolve_db_url
from clearway.storage.migrate import head_revision, require_current, upgrade
from clearway.storage.models import AuditHeadRow, Base


def _schema_diffs(url: str, metadata: MetaData) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, metadata)
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_orm_schema(empty_db_url):
    assert upgrade(empty_db_url) == (None, head_revision())
    assert _schema_diffs(empty_db_url, Base.metadata) == []
    assert upgrade(empty_db_url) == (head_revision(), head_revision())  # idempotent
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        head = conn.execute(select(AuditHeadRow.last_seq, AuditHeadRow.last_hash)).one()
    engine.dispose()
    assert head == (0, "0" * 64)


def test_the_schema_comparison_would_notice_a_difference(db_url):
    # The check above must be able to fail: a model column the migrations lack is reported.
    extra = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(extra)
    Table("users", extra, Column("nickname", String(20)), extend_existing=True)
    diffs = _schema_diffs(db_url, extra)
    assert any(d[0] == "add_column" and d[3].name == "nickname" for d in diffs), diffs


def test_an_unmigrated_database_is_refused_with_the_fix(empty_db_url):
    engine = make_engine(empty_db_url)
    try:
        with pytest.raises(StorageError, match="no clearway schema.*clearway db upgrade"):
            require_current(engine)
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_foreign_keys_are_enforced(sessions):
    from sqlalchemy.exc import IntegrityError

    from clearway.storage.models import PositionRow, utcnow

    with sessions() as s, pytest.raises(IntegrityError):
        s.add(
            PositionRow(
                request_id="nope",
                seq=1,
                recorded_at=utcnow(),
                time_s=0.0,
                edge_id="E",
                speed_mps=0.0,
            )
        )
        s.flush()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("not a url", "not a database URL: 'not a url'"),
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("sqlite:////nonexistent-dir/sub/x.db", "cannot open database sqlite:////nonexistent-dir"),
        (
            "postgresql+psycopg://clearway:s3cret@127.0.0.1:1/clearway",
            "cannot open database postgresql\\+psycopg://clearway:\\*\\*\\*@127.0.0.1:1/clearway",
        ),
    ],
    ids=["garbage", "mysql", "sqlite-no-dir", "pg-unreachable"],
)
def test_bad_urls_raise_storage_error_naming_them(url, words):
    with pytest.raises(StorageError, match=words) as info:
        make_engine(url)
    assert "s3cret" not in str(info.value)


def test_url_defaults_and_spellings(monkeypatch):
    monkeypatch.delenv("CLEARWAY_DB_URL", raising=False)
    assert resolve_db_url() == "sqlite:///clearway.db"
    monkeypatch.setenv("CLEARWAY_DB_URL", "sqlite:///elsewhere.db")
    assert resolve_db_url() == "sqlite:///elsewhere.db"
    assert resolve_db_url("sqlite:///given.db") == "sqlite:///given.db"
    for given in ("postgresql://u@h/d", "postgres://u@h/d", "postgresql+psycopg2://u@h/d"):
        assert parse_db_url(given).drivername == "postgresql+psycopg"


def test_every_table_has_a_primary_key_and_named_constraints(engine):
    insp = inspect(engine)
    for table in Base.metadata.sorted_tables:
        assert insp.get_pk_constraint(table.name)["constrained_columns"], table.name


def test_the_transit_role_migration_keeps_users_and_their_keys(tmp_path):
    # 0004 copies the users table on SQLite (a CHECK cannot be altered there): with foreign
    # keys on, that would cascade to every API key if they were not put back.
    from clearway.storage.db import session_factory
    from clearway.storage.users import add_user, authenticate

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as s:
            _, key = add_user(s, "disp", "dispatcher")
    finally:
        engine.dispose()
    assert upgrade(url) == ("0003", head_revision())
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as s:
            assert authenticate(s, key).role == "dispatcher"
            add_user(s, "avl", "transit")
    finally:
        engine.dispose()
