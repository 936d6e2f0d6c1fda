"""``clearway db|users|audit`` end to end through typer, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from clearway.cli.app import app
from clearway.errors import AuthError, StorageError
from clearway.storage.audit import AuditLog
from clearway.storage.db import make_engine, session_factory
from clearway.storage.models import AuditRecordRow, utcnow
from clearway.storage.requests import add_position, save_request
from clearway.storage.users import authenticate


@pytest.fixture
def cli(empty_db_url):
    runner = CliRunner()

    def invoke(*args: str, env: dict | None = None):
        return runner.invoke(app, [*args, "--db", empty_db_url], env=env)

    invoke.url = empty_db_url
    return invoke


def _sessions(url: str):
    engine = make_engine(url)
    return engine, session_factory(engine)


def test_users_add_prints_the_key_once_and_only_its_hash_is_kept(cli):
    assert cli("db", "upgrade").exit_code == 0
    res = cli("users", "add", "dispatch-1", "--role", "dispatcher")
    assert res.exit_code == 0, res.output
    key = res.stdout.strip()
    assert key.startswith("cwk_") and "\n" not in key  # stdout is the key alone
    key_id, secret = key.split("_", 2)[1:]
    assert key_id in res.stderr and secret not in res.stderr
    listing = cli("users", "list")
    assert listing.exit_code == 0 and "dispatch-1" in listing.stdout and key_id in listing.stdout
    assert secret not in listing.stdout
    engine, sessions = _sessions(cli.url)
    with sessions() as s:
        assert authenticate(s, key).role == "dispatcher"
    assert cli("users", "revoke", key_id).exit_code == 0
    with sessions() as s, pytest.raises(AuthError):
        authenticate(s, key)
    actions = [r.payload["action"] for r in AuditLog(sessions).query(kind="admin").records]
    engine.dispose()
    assert actions == ["db.upgrade", "user.add", "key.revoke"]


def test_a_second_key_and_refusals(cli):
    cli("db", "upgrade")
    cli("users", "add", "ops", "--role", "operator")
    res = cli("users", "key", "ops")
    assert res.exit_code == 0 and res.stdout.strip().startswith("cwk_")
    bad = cli("users", "add", "ops", "--role", "operator")
    assert isinstance(bad.exception, StorageError) and "exists" in str(bad.exception)
    bad_role = cli("users", "add", "x", "--role", "root")
    assert isinstance(bad_role.exception, StorageError) and "unknown role" in str(
        bad_role.exception
    )


def test_audit_verify_exit_codes_and_the_broken_record_named(cli):
    cli("db", "upgrade")
    for name in ("a", "b", "c"):
        cli("users", "add", name, "--role", "viewer")
    ok = cli("audit", "verify")
    assert ok.exit_code == 0 and "intact: 4 records" in ok.stdout
    engine, sessions = _sessions(cli.url)
    with sessions.begin() as s:
        s.execute(
            update(AuditRecordRow)
            .where(AuditRecordRow.seq == 3)
            .values(payload='{"action":"user.add","role":"admin","user":"b"}')
        )
    engine.dispose()
    broken = cli("audit", "verify")
    assert broken.exit_code == 1 and "record 3" in broken.stdout
    report = json.loads(cli("audit", "verify", "--json").stdout)
    assert (report["ok"], report["bad_seq"], report["problem"]) == (False, 3, "altered")


def test_prune_positions_and_audit_list(cli):
    cli("db", "upgrade")
    engine, sessions = _sessions(cli.url)
    with sessions.begin() as s:
        save_request(s, "amb#1", spec={"requester_id": "amb", "incident_id": "I1"})
        for age_days in (40, 10):
            add_position(
                s,
                "amb#1",
                time_s=0.0,
                edge_id="E",
                speed_mps=0.0,
                at=utcnow() - timedelta(days=age_days),
            )
    engine.dispose()
    res = cli("audit", "prune-positions", "--older-than-days", "30")
    assert res.exit_code == 0 and "1 position(s) older than 30 days" in res.stdout
    lines = [json.loads(x) for x in cli("audit", "list", "--kind", "admin").stdout.splitlines()]
    assert lines[-1]["payload"] == {
        "action": "positions.prune",
        "deleted": 1,
        "older_than_days": 30.0,
        "redacted": 0,
    }


def test_commands_on_an_unmigrated_database_say_how_to_fix_it(cli):
    res = cli("users", "list")
    assert isinstance(res.exception, StorageError)
    assert "clearway db upgrade" in str(res.exception)


def test_db_url_comes_from_the_environment(tmp_path):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    res = CliRunner().invoke(app, ["db", "upgrade"], env={"CLEARWAY_DB_URL": url})
    assert res.exit_code == 0 and (tmp_path / "env.db").exists()


def test_the_console_script_reports_a_bad_url_cleanly(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "clearway.cli", "audit", "verify", "--db", "mysql://x@y/z"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "unsupported database 'mysql'" in proc.stderr and "Traceback" not in proc.stderr
