"""Checking the audit chain: walk every record in ``seq`` order and name the first bad one.

What each finding means:

``missing``
    A ``seq`` is skipped: records were deleted (or the tail was, when the head says more).
``reordered``
    A record's ``prev_hash`` is the hash of a record stored at another position: rows were
    moved (their ``seq`` values swapped or renumbered).
``relinked``
    A record's ``prev_hash`` is no record's hash: its link, or its predecessor, was replaced.
``altered``
    A record's content no longer gives its stored hash: it was edited after it was written.
``head``
    The head row disagrees with the last record (edited head, or a chain rewritten past it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearway.storage.chain import GENESIS_HASH, chain_hash
from clearway.storage.models import AuditHeadRow, AuditRecordRow


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of :func:`verify_chain`.

    Attributes
    ----------
    ok
        The whole chain holds.
    checked
        Records read (all of them when ``ok``; up to and including the bad one otherwise).
    head_seq, head_hash
        The last record's ``seq`` and hash, as the chain gives them: keep ``head_hash``
        elsewhere to detect a rewrite of the whole chain later.
    bad_seq
        The first record found broken (``None`` when ``ok``).
    problem
        ``missing``, ``reordered``, ``relinked``, ``altered`` or ``head`` (module docstring).
    message
        One line naming the record and what is wrong with it.
    """

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    problem: str | None = None
    message: str = ""

    def __str__(self) -> str:
        return self.message


_COLUMNS = (
    AuditRecordRow.seq,
    AuditRecordRow.recorded_at,
    AuditRecordRow.kind,
    AuditRecordRow.principal,
    AuditRecordRow.junction_id,
    AuditRecordRow.request_id,
    AuditRecordRow.payload,
    AuditRecordRow.prev_hash,
    AuditRecordRow.hash,
)


def verify_chain(session: Session, *, batch: int = 5000) -> VerifyReport:
    """Check every record's link and hash, then the head row; stop at the first break."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    after = 0
    while True:
        rows = session.execute(
            select(*_COLUMNS)
            .where(AuditRecordRow.seq > after)
            .order_by(AuditRecordRow.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for seq, at, kind, principal, junction, request, payload, link, digest in rows:
            checked += 1
            bad = _check_one(session, expected_seq, prev_hash, seq, link)
            if bad is None:
                try:
                    content = json.loads(payload)
                except ValueError:
                    content = payload  # unreadable payload: the hash below fails for it
                if chain_hash(link, seq, at, kind, principal, junction, request, content) != digest:
                    bad = (
                        "altered",
                        f"record {seq} was altered after it was written: its "
                        "content no longer matches its hash",
                    )
            if bad is not None:
                problem, message = bad
                return VerifyReport(
                    False,
                    checked,
                    expected_seq - 1,
                    prev_hash,
                    min(seq, expected_seq),
                    problem,
                    message,
                )
            expected_seq, prev_hash = seq + 1, digest
        after = rows[-1][0]
    last_seq = expected_seq - 1
    return _check_head(session, checked, last_seq, prev_hash)


def _check_one(
    session: Session, expected_seq: int, prev_hash: str, seq: int, link: str
) -> tuple[str, str] | None:
    if seq != expected_seq:
        gap = (
            f"record {expected_seq}"
            if seq == expected_seq + 1
            else (f"records {expected_seq}-{seq - 1}")
        )
        return "missing", f"{gap} missing before record {seq}: deleted from the audit log"
    if link == prev_hash:
        return None
    moved = session.scalar(select(AuditRecordRow.seq).where(AuditRecordRow.hash == link))
    if moved is not None:
        return "reordered", (
            f"record {seq} is out of order: it follows record {moved}, not record {seq - 1} "
            "(records were moved or renumbered)"
        )
    before = f"record {seq - 1}" if seq > 1 else "the start of the chain"
    return "relinked", (
        f"record {seq} does not link to {before}: its prev_hash, or the record before it, "
        "was replaced"
    )


def _check_head(session: Session, checked: int, last_seq: int, last_hash: str) -> VerifyReport:
    head = session.execute(select(AuditHeadRow.last_seq, AuditHeadRow.last_hash)).one_or_none()
    if head is None:
        return VerifyReport(
            False,
            checked,
            last_seq,
            last_hash,
            last_seq + 1,
            "head",
            "the audit head row is gone; run `clearway db upgrade` on a "
            "database that was never migrated, else it was deleted",
        )
    head_seq, head_hash = head
    if head_seq > last_seq:
        gap = (
            f"record {last_seq + 1}"
            if head_seq == last_seq + 1
            else (f"records {last_seq + 1}-{head_seq}")
        )
        return VerifyReport(
            False,
            checked,
            last_seq,
            last_hash,
            last_seq + 1,
            "missing",
            f"{gap} missing at the end of the audit log (the head says "
            f"{head_seq} records): deleted",
        )
    if head_seq != last_seq or head_hash != last_hash:
        return VerifyReport(
            False,
            checked,
            last_seq,
            last_hash,
            last_seq,
            "head",
            f"the audit head (record {head_seq}) does not match record "
            f"{last_seq}: the head or the chain's end was rewritten",
        )
    return VerifyReport(
        True,
        checked,
        last_seq,
        last_hash,
        message=f"audit chain intact: {checked} records, head {last_hash}",
    )
