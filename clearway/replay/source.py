"""Reading one request's incident from a clearway database: the chain verified first, then
its audit records, the signal records its holds are read from, and its stored row.

Nothing is replayed from a log that does not verify: :func:`read_incident` refuses it and
names the first bad record, as ``clearway audit verify`` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from clearway.errors import ConfigError, StorageError, UnknownRequestError
from clearway.replay.incident import DEFAULT_PRIORITY_SOURCE, FINAL_EVENTS, IncidentLog, rebuild
from clearway.storage.audit import AuditKind, AuditRecord, VerifyReport, query, verify
from clearway.storage.models import AuditRecordRow, PriorityRequestRow, as_utc
from clearway.storage.requests import StoredRequest, get_request

#: What a request id the service hands out looks like (``pr-`` and 16 hex digits); restored
#: and older ids may differ, so only the characters are checked.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
#: How far before the request's creation other requests' records are read, to name those
#: live during its holds (s of UTC time): longer than any request's maximum duration.
LOOKBACK_S = 24 * 3600.0
_SIGNAL_KINDS = (AuditKind.SIGNAL_APPROVED.value, AuditKind.SIGNAL_REJECTED.value)
_PAGE = 1000


class ReplayError(ConfigError):
    """A request cannot be replayed (the message says why and what to do)."""


class RouteUnknownError(ReplayError):
    """The request's route is no longer stored: its log can be read, its trip not re-run."""


@dataclass(frozen=True)
class Incident:
    """What the database holds about one request.

    Attributes
    ----------
    log
        Its audit records, rebuilt (:class:`~clearway.replay.incident.IncidentLog`).
    verified
        The chain check done first (it held).
    stored
        Its ``priority_requests`` row (``None`` if the database has the records only); its
        places are gone once it was redacted after the retention period.
    """

    log: IncidentLog
    verified: VerifyReport
    stored: StoredRequest | None


def read_incident(sessions: sessionmaker[Session], request_id: str) -> Incident:
    """Verify the chain, then rebuild ``request_id``'s incident.

    Raises
    ------
    ReplayError
        The chain is broken (naming the first bad record), or ``request_id`` is no request
        id at all.
    UnknownRequestError
        The log has no request by that id (the message says if it has none at all).
    StorageError
        The database has no clearway schema.
    """
    if not _REQUEST_ID.match(request_id or ""):
        raise ReplayError(
            f"{request_id!r} is not a priority request id (like 'pr-0123456789abcdef'; "
            "`clearway audit list --kind request` lists them)"
        )
    try:
        with sessions() as s:
            report = verify(s)
            if not report.ok:
                raise ReplayError(
                    f"the audit log does not verify, first bad record seq {report.bad_seq} "
                    f"({report.problem}): {report.message}. A replay from an unverifiable log "
                    "would prove nothing; restore the database from a backup whose head hash "
                    "you kept, and check it with `clearway audit verify`"
                )
            records = _request_records(s, request_id)
            if not records:
                raise _unknown(s, request_id)
            log = _rebuild(s, request_id, records)
            stored = get_request(s, request_id) if _has_row(s, request_id) else None
    except (OperationalError, ProgrammingError) as exc:
        raise StorageError(
            "the database has no clearway audit log (run `clearway db upgrade --db URL`, or "
            f"give the service's database): {type(exc).__name__}"
        ) from None
    return Incident(log, report, stored)


def _request_records(s: Session, request_id: str) -> list[AuditRecord]:
    out: list[AuditRecord] = []
    after = 0
    while True:
        page = query(s, request_id=request_id, after_seq=after, limit=_PAGE)
        out += [r for r in page.records if r.kind == AuditKind.REQUEST.value]
        if page.next_after_seq is None:
            return out
        after = page.next_after_seq


def _unknown(s: Session, request_id: str) -> UnknownRequestError:
    known = list(
        s.scalars(
            select(AuditRecordRow.request_id)
            .where(AuditRecordRow.kind == AuditKind.REQUEST.value)
            .distinct()
            .limit(10_000)
        )
    )
    if not known:
        err = UnknownRequestError(request_id, where="this database's audit log")
        err.args = (
            f"this database's audit log holds no priority request at all, so not "
            f"{request_id!r}: is --db the service's database?",
        )
        return err
    return UnknownRequestError(request_id, known, where="this database's audit log")


def _has_row(s: Session, request_id: str) -> bool:
    return s.get(PriorityRequestRow, request_id) is not None


def _rebuild(s: Session, request_id: str, records: list[AuditRecord]) -> IncidentLog:
    created = records[0]
    if created.payload.get("event") != "created":
        raise ReplayError(
            f"the log's first record of {request_id!r} (seq {created.seq}) is a "
            f"{created.payload.get('event')!r}, not its creation: it was created in another "
            "database (restored here); replay it from that one"
        )
    final = next((r for r in records if r.payload.get("event") in FINAL_EVENTS), None)
    final_seq = None if final is None else final.seq
    run = created.payload.get("run") or {}
    source = str(run.get("strategy") or DEFAULT_PRIORITY_SOURCE)
    signals = _route_signals(s, request_id) or _commanded_signals(s, created.seq, final_seq, source)
    lifetimes = _lifetimes(s, created, final_seq)
    streams = {sid: _signal_records(s, sid, created.seq) for sid in signals}
    return rebuild(request_id, records, streams, lifetimes=lifetimes)


def _route_signals(s: Session, request_id: str) -> list[str]:
    """The signals of the request's planned route, while its row still has them."""
    row = s.get(PriorityRequestRow, request_id)
    if row is None:
        return []
    return list(json.loads(row.detail).get("junctions") or {})


def _commanded_signals(s: Session, after: int, until: int | None, source: str) -> list[str]:
    """Every signal the strategy commanded while the request lived, in order of first command."""
    seen: dict[str, None] = {}
    stmt = select(AuditRecordRow.junction_id, AuditRecordRow.payload).where(
        AuditRecordRow.kind == AuditKind.SIGNAL_APPROVED.value, AuditRecordRow.seq > after
    )
    if until is not None:
        stmt = stmt.where(AuditRecordRow.seq <= until)
    for sid, payload in s.execute(stmt.order_by(AuditRecordRow.seq)):
        if sid is not None and sid not in seen and json.loads(payload).get("source") == source:
            seen[sid] = None
    return list(seen)


def _signal_records(s: Session, signal_id: str, after: int) -> Iterator[AuditRecord]:
    """The signal's records after ``after``, page by page, as far as the caller reads."""
    while True:
        page = query(s, junction_id=signal_id, after_seq=after, limit=_PAGE)
        yield from (r for r in page.records if r.kind in _SIGNAL_KINDS)
        if page.next_after_seq is None:
            return
        after = page.next_after_seq


def _lifetimes(
    s: Session, created: AuditRecord, final_seq: int | None
) -> dict[str, tuple[int, int | None]]:
    """Other requests' (created seq, final seq) from a day before this one's creation."""
    stmt = select(AuditRecordRow.seq, AuditRecordRow.request_id, AuditRecordRow.payload).where(
        AuditRecordRow.kind == AuditKind.REQUEST.value,
        AuditRecordRow.recorded_at >= as_utc(created.recorded_at) - timedelta(seconds=LOOKBACK_S),
    )
    out: dict[str, tuple[int, int | None]] = {}
    for seq, rid, payload in s.execute(stmt.order_by(AuditRecordRow.seq)):
        event = json.loads(payload).get("event")
        if rid is None or rid == created.request_id:
            continue
        if event == "created":
            out[rid] = (seq, None)
        elif event in FINAL_EVENTS and rid in out:
            out[rid] = (out[rid][0], seq)
    # Only those live at some point of this one's life (and holds, which end later).
    return {rid: (c, f) for rid, (c, f) in out.items() if f is None or f >= created.seq}
