"""The signed audit head: key files, Ed25519 signatures, and checking a database's chain
against a published head (a real SQLite database, rewritten in the ways an insider could)."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update

from clearway.errors import ConfigError
from clearway.storage.audit import AuditLog
from clearway.storage.chain import chain_hash
from clearway.storage.db import write_session
from clearway.storage.models import AuditHeadRow, AuditRecordRow
from clearway.storage.public_report import body_of, parse_period, publish
from clearway.storage.signed_head import (
    SignatureError,
    check_against,
    check_signature,
    generate_keypair,
    load_private_key,
    load_public_key,
    public_key_path,
    report_digest,
    sign_head,
)


@pytest.fixture
def backend() -> str:
    """A real SQLite database (the rewrites below are the same on PostgreSQL)."""
    return "sqlite"


@pytest.fixture
def key_file(tmp_path):
    private, _ = generate_keypair(tmp_path / "keys" / "report.key")
    return private


@pytest.fixture
def log(sessions):
    audit = AuditLog(sessions)
    for i in range(10):
        audit.append("admin", principal="cli:test", payload={"action": "x", "n": i})
    return audit


def _published(sessions, key_file) -> dict:
    with sessions() as s:
        return publish(s, parse_period(day="2026-12-03"), key=load_private_key(key_file))


def test_keygen_writes_a_private_key_only_its_owner_reads_and_refuses_to_overwrite(key_file):
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    pub = public_key_path(key_file).read_text()
    assert pub.startswith("-----BEGIN PUBLIC KEY-----")
    load_private_key(key_file)
    with pytest.raises(ConfigError, match="exists"):
        generate_keypair(key_file)
    os.chmod(key_file, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_private_key(key_file)


def test_a_published_head_verifies_and_any_change_breaks_it(key_file, sessions, log):
    report = _published(sessions, key_file)
    head = report["audit_head"]
    assert head["head_seq"] == 10 and head["algorithm"] == "Ed25519"
    assert head["report_digest"] == report_digest(body_of(report))
    public = load_public_key(public_key_path(key_file).read_text())
    check_signature(head, public)
    check_signature(head)  # with the key the head names
    for field, value in (("head_seq", 9), ("head_hash", "0" * 64),
                         ("generated_at", "2030-01-01T00:00:00.000000Z"),
                         ("report_digest", "f" * 64)):  # fmt: skip
        with pytest.raises(SignatureError, match="does not match"):
            check_signature(head | {field: value}, public)
    sig = bytearray(base64.b64decode(head["signature"]))
    sig[0] ^= 1
    with pytest.raises(SignatureError, match="does not match"):
        check_signature(head | {"signature": base64.b64encode(bytes(sig)).decode()}, public)
    other, _ = generate_keypair(key_file.with_name("other.key"))
    forged = sign_head(load_private_key(other), 10, "0" * 64, head["generated_at"], "f" * 64)
    with pytest.raises(SignatureError, match="another public key"):
        check_signature(forged, public)
    with pytest.raises(SignatureError, match="not signed"):
        check_signature(head | {"algorithm": None})


def test_the_chain_holds_the_published_head_and_records_after_it_are_fine(key_file, sessions, log):
    head = _published(sessions, key_file)["audit_head"]
    log.append("admin", payload={"action": "later"})
    with sessions() as s:
        result = check_against(s, head)
    assert result.ok and result.bad_seq is None, result.message


def test_an_edited_record_before_the_head_is_named(key_file, sessions, log):
    head = _published(sessions, key_file)["audit_head"]
    with write_session(sessions) as s:
        s.execute(update(AuditRecordRow).where(AuditRecordRow.seq == 4)
                  .values(payload=json.dumps({"action": "x", "n": 99})))  # fmt: skip
    with sessions() as s:
        result = check_against(s, head)
    assert not result.ok and result.bad_seq == 4, result.message
    assert "record 4" in result.message


def test_a_rewritten_and_rehashed_log_fails_at_the_published_head(key_file, sessions, log):
    head = _published(sessions, key_file)["audit_head"]
    _rewrite_from(sessions, 4, {"action": "x", "n": 99})
    assert log.verify().ok  # the chain alone cannot tell: it was re-hashed
    with sessions() as s:
        result = check_against(s, head)
    assert not result.ok and result.bad_seq == 10, result.message
    assert "record 10 no longer has the published hash" in result.message


def test_a_removed_record_before_the_head_is_named(key_file, sessions, log):
    head = _published(sessions, key_file)["audit_head"]
    with write_session(sessions) as s:
        s.execute(delete(AuditRecordRow).where(AuditRecordRow.seq == 6))
    with sessions() as s:
        result = check_against(s, head)
    assert not result.ok and result.bad_seq == 6, result.message


def test_a_truncated_and_rebuilt_log_fails(key_file, sessions, log):
    head = _published(sessions, key_file)["audit_head"]
    with write_session(sessions) as s:
        s.execute(delete(AuditRecordRow).where(AuditRecordRow.seq > 7))
        last = s.scalar(select(AuditRecordRow.hash).where(AuditRecordRow.seq == 7))
        s.execute(update(AuditHeadRow).values(last_seq=7, last_hash=last))
    assert log.verify().ok
    with sessions() as s:
        result = check_against(s, head)
    assert not result.ok and result.bad_seq == 10 and "is gone" in result.message


def _rewrite_from(sessions, seq: int, payload: dict) -> None:
    """What an insider with write access does: change record ``seq`` and re-hash every
    record after it, and the head, so that the chain verifies again."""
    with write_session(sessions) as s:
        rows = s.scalars(select(AuditRecordRow).where(AuditRecordRow.seq >= seq)
                         .order_by(AuditRecordRow.seq)).all()  # fmt: skip
        prev = rows[0].prev_hash
        for row in rows:
            if row.seq == seq:
                row.payload = json.dumps(payload, sort_keys=True, separators=(",", ":"))
            at = (
                row.recorded_at.replace(tzinfo=UTC)
                if row.recorded_at.tzinfo is None
                else row.recorded_at
            )
            row.prev_hash = prev
            row.hash = chain_hash(prev, row.seq, at, row.kind, row.principal, row.junction_id,
                                  row.request_id, json.loads(row.payload))  # fmt: skip
            prev = row.hash
            s.flush()
        s.execute(update(AuditHeadRow).values(last_hash=prev))


def test_generated_at_is_utc(key_file, sessions, log):
    head = _published(sessions, key_file)["audit_head"]
    assert datetime.strptime(head["generated_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
