"""The audit log: append-only records, each hash-chained to the one before.

Record ``n`` stores ``hash = sha256(prev_hash + canonical_json(record))`` where ``prev_hash``
is record ``n-1``'s hash (64 zeros for record 1) and the canonical JSON holds ``seq``,
``time`` (UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``), ``kind``, ``principal``, ``junction_id``,
``request_id`` and ``payload``, with sorted keys and no spaces. Editing a record, deleting
one, or changing the order breaks the chain at that record, and :func:`verify` names it.
The one-row ``audit_head`` table holds the last ``seq`` and hash; it is what appends lock so
that concurrent writers extend one chain instead of forking it, and it catches a deleted tail.

What the chain does not stop: someone with write access to the database who rewrites every
record from the tampered one onwards, and the head. Copy the head hash somewhere they cannot
write (see ``clearway audit verify``) to catch that too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from clearway.errors import StorageError
from clearway.storage.chain import GENESIS_HASH, canonical_json, chain_hash, iso_utc
from clearway.storage.db import holds_write_lock, write_session
from clearway.storage.models import AuditHeadRow, AuditRecordRow, as_utc, utcnow
from clearway.storage.verify import VerifyReport, verify_chain

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditKind",
    "AuditLog",
    "AuditPage",
    "AuditRecord",
    "VerifyReport",
    "append_entries",
    "chain_hash",
    "query",
    "verify",
]

_KIND = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")
#: Most records :func:`query` returns per page.
MAX_PAGE = 1000


class AuditKind(StrEnum):
    """The kinds of record clearway writes; other lowercase dotted names are accepted too."""

    REQUEST = "request"  # a priority request's lifecycle event (payload: state, reason)
    SIGNAL_APPROVED = "signal.approved"  # per junction per change (payload: state, source)
    SIGNAL_REJECTED = "signal.rejected"  # per junction per change (payload: state, reasons)
    AUTH_FAILED = "auth.failed"  # payload: key id if any, route, remote address
    ADMIN = "admin"  # payload: action and its arguments


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What to append. ``at`` defaults to now (UTC); ``payload`` must be JSON-serialisable."""

    kind: str
    principal: str | None = None
    junction_id: str | None = None
    request_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored record (``seq`` is its id, 1, 2, 3 ... with no gaps)."""

    seq: int
    recorded_at: datetime
    kind: str
    principal: str | None
    junction_id: str | None
    request_id: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (time as ISO 8601 UTC)."""
        return {
            "seq": self.seq,
            "time": iso_utc(self.recorded_at),
            "kind": self.kind,
            "principal": self.principal,
            "junction_id": self.junction_id,
            "request_id": self.request_id,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of :func:`query`; pass ``next_after_seq`` back for the next (``None``: last)."""

    records: tuple[AuditRecord, ...]
    next_after_seq: int | None


_HEAD_T = AuditHeadRow.__table__
_TOUCH_HEAD = update(_HEAD_T).where(_HEAD_T.c.id == 1).values(id=1)
_HEAD = select(_HEAD_T.c.last_seq, _HEAD_T.c.last_hash).where(_HEAD_T.c.id == 1)
_HEAD_LOCKED = _HEAD.with_for_update()
_SET_HEAD = (
    update(_HEAD_T)
    .where(_HEAD_T.c.id == 1)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)
_INSERT_RECORDS = insert(AuditRecordRow.__table__)


def append_entries(session: Session, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
    """Append ``entries`` in order, in the caller's transaction (commit is the caller's).

    The chain head is locked first (``SELECT ... FOR UPDATE`` on PostgreSQL, the database
    write lock on SQLite), so appends from other threads or processes wait and then continue
    the chain from this one's last record. On SQLite the append must be the transaction's
    first statement or come after a write (a read-only snapshot cannot be upgraded once
    another writer has committed); :meth:`AuditLog.append` takes care of that.

    Raises
    ------
    StorageError
        A kind is not a lowercase dotted name, a payload is not JSON, or the database has
        no audit head (not migrated).
    """
    prepared = [_prepare(e) for e in entries]
    if not prepared:
        return []
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite and not holds_write_lock(conn):
        # A write first: it takes SQLite's one writer lock before the head is read.
        conn.execute(_TOUCH_HEAD)
    head = conn.execute(_HEAD if sqlite else _HEAD_LOCKED).one_or_none()
    if head is None:
        raise StorageError("the audit log has no head row; run `clearway db upgrade --db URL`")
    seq, prev = head
    rows: list[dict[str, Any]] = []
    records: list[AuditRecord] = []
    for kind, principal, junction, request, payload_text, payload, at in prepared:
        seq += 1
        digest = chain_hash(prev, seq, at, kind, principal, junction, request, payload)
        rows.append(
            {
                "seq": seq,
                "recorded_at": at,
                "kind": kind,
                "principal": principal,
                "junction_id": junction,
                "request_id": request,
                "payload": payload_text,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        records.append(
            AuditRecord(seq, at, kind, principal, junction, request, payload, prev, digest)
        )
        prev = digest
    # The tables, not the mapped classes, and statements built once: a plain executemany,
    # without the ORM's bulk machinery (appends run several times a tick and per batch of
    # position updates).
    conn.execute(_INSERT_RECORDS, rows)
    # No ORM object of the head is ever loaded, so none in the session goes stale.
    conn.execute(_SET_HEAD, {"new_seq": seq, "new_hash": prev})
    return records


def _prepare(e: AuditEntry) -> tuple:
    if not isinstance(e.kind, str) or not _KIND.match(e.kind):
        raise StorageError(
            f"audit kind {e.kind!r} is not a lowercase dotted name like 'signal.approved'"
        )
    try:
        payload_text = canonical_json(dict(e.payload))
    except (TypeError, ValueError) as exc:
        raise StorageError(f"audit payload of a {e.kind!r} record is not JSON: {exc}") from None
    at = as_utc(e.at) if e.at is not None else utcnow()
    # Hash what a reader will parse back, so that verify() recomputes the very same bytes.
    payload = json.loads(payload_text)
    return (str(e.kind), e.principal, e.junction_id, e.request_id, payload_text, payload, at)


def verify(session: Session, *, batch: int = 5000) -> VerifyReport:
    """Walk the whole chain in ``seq`` order and report the first record that breaks it.

    All reads happen in one snapshot, so appends running meanwhile are either wholly seen
    or not at all (otherwise the head, read last, could be ahead of the records read
    before it). Pass a session that has not begun a transaction for that guarantee on
    PostgreSQL: it is then put in REPEATABLE READ; SQLite transactions are snapshots.
    """
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return verify_chain(session, batch=batch)


def query(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str | None = None,
    principal: str | None = None,
    junction_id: str | None = None,
    request_id: str | None = None,
    after_seq: int = 0,
    limit: int = 100,
) -> AuditPage:
    """Records matching every filter given, oldest first, at most ``limit`` (≤ 1000).

    ``since`` is inclusive, ``until`` exclusive (aware datetimes; naive ones are UTC).
    """
    limit = max(1, min(limit, MAX_PAGE))
    stmt = select(AuditRecordRow).where(AuditRecordRow.seq > after_seq)
    if since is not None:
        stmt = stmt.where(AuditRecordRow.recorded_at >= as_utc(since))
    if until is not None:
        stmt = stmt.where(AuditRecordRow.recorded_at < as_utc(until))
    for column, value in (
        (AuditRecordRow.kind, kind),
        (AuditRecordRow.principal, principal),
        (AuditRecordRow.junction_id, junction_id),
        (AuditRecordRow.request_id, request_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows = session.scalars(stmt.order_by(AuditRecordRow.seq).limit(limit + 1)).all()
    records = tuple(_record(r) for r in rows[:limit])
    return AuditPage(records, records[-1].seq if len(rows) > limit else None)


def _record(r: AuditRecordRow) -> AuditRecord:
    return AuditRecord(
        r.seq,
        as_utc(r.recorded_at),
        r.kind,
        r.principal,
        r.junction_id,
        r.request_id,
        json.loads(r.payload),
        r.prev_hash,
        r.hash,
    )


class AuditLog:
    """The audit log of one database; safe to share between threads.

    Every call runs in its own transaction, committed before it returns: an append that
    returned is on disk.

    Parameters
    ----------
    sessions
        Session factory of the database (:func:`~clearway.storage.db.session_factory`).
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def append(
        self,
        kind: str,
        *,
        principal: str | None = None,
        junction_id: str | None = None,
        request_id: str | None = None,
        payload: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditRecord:
        """Append one record (see :func:`append_entries`)."""
        entry = AuditEntry(kind, principal, junction_id, request_id, payload or {}, at)
        return self.append_many([entry])[0]

    def append_many(self, entries: Iterable[AuditEntry]) -> list[AuditRecord]:
        """Append several records in one transaction (a control tick's signal commands)."""
        with write_session(self.sessions) as session:
            return append_entries(session, list(entries))

    def verify(self) -> VerifyReport:
        """Check the whole chain (see :func:`verify`)."""
        with self.sessions() as session:
            return verify(session)

    def query(self, **filters: Any) -> AuditPage:
        """Records by time range, kind, principal, junction or request (see :func:`query`)."""
        with self.sessions() as session:
            return query(session, **filters)
