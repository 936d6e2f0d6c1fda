"""Priority requests and the positions of their vehicles, kept across restarts.

Generic on purpose: a request is its spec as JSON (what the dispatcher sent, e.g.
``PriorityRequestSpec.model_dump(mode="json")``) and a free JSON ``detail`` (route, junction
statuses ...), plus the columns looked up by: owner, requester, incident, status and times.
Status names are those of :class:`clearway.control.priority.request.RequestState`; the
non-final ones are what :func:`active_requests` hands back after a restart.

Positions are personal data of the crews (where an ambulance was, when): they are kept for a
retention period (default 30 days, ``$CLEARWAY_POSITION_RETENTION_DAYS``) and deleted by
:func:`prune_positions` (``clearway audit prune-positions``).

Write through :func:`clearway.storage.db.write_session`: on SQLite it takes the one-writer
lock before the row is read, so two position updates of one vehicle cannot race on ``seq``
(PostgreSQL locks the request row instead).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from clearway.errors import StorageError, UnknownRequestError
from clearway.storage.chain import canonical_json
from clearway.storage.models import PositionRow, PriorityRequestRow, as_utc, utcnow

ACTIVE_STATUSES = ("requested", "planned", "active")
FINAL_STATUSES = ("completed", "cancelled", "expired", "rejected")
RETENTION_ENV = "CLEARWAY_POSITION_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30.0


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A request as stored (times of day UTC; ``*_s`` traffic times)."""

    request_id: str
    principal: str | None
    requester_id: str
    incident_id: str
    status: str
    spec: dict[str, Any]
    detail: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    created_s: float | None
    last_heard_s: float | None
    last_position_seq: int
    last_position_at: datetime | None

    @property
    def active(self) -> bool:
        """Not finished yet: it must be picked up again after a restart."""
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True, slots=True)
class StoredPosition:
    """One position update as sent: road place (edge, offset m) and/or lon/lat (deg) with
    heading (deg from north) and accuracy (m), speed (m/s); ``measured_at`` the sender's
    UTC time stamp, ``time_s`` the traffic time used, ``recorded_at`` when it was stored."""

    request_id: str
    seq: int
    recorded_at: datetime
    time_s: float
    edge_id: str | None
    offset_m: float | None
    lon: float | None
    lat: float | None
    speed_mps: float
    heading_deg: float | None = None
    accuracy_m: float | None = None
    measured_at: datetime | None = None


def retention_days(value: float | None = None) -> float:
    """``value``, else ``$CLEARWAY_POSITION_RETENTION_DAYS``, else 30 (days, > 0)."""
    raw: Any = value if value is not None else os.environ.get(RETENTION_ENV, DEFAULT_RETENTION_DAYS)
    try:
        days = float(raw)
    except ValueError:
        raise StorageError(f"{RETENTION_ENV}={raw!r} is not a number of days") from None
    if not days > 0:
        raise StorageError(f"position retention must be more than 0 days, not {days}")
    return days


def save_request(
    session: Session,
    request_id: str,
    *,
    spec: Mapping[str, Any],
    status: str = "requested",
    principal: str | None = None,
    detail: Mapping[str, Any] | None = None,
    created_s: float | None = None,
    at: datetime | None = None,
) -> StoredRequest:
    """Store a new request; ``requester_id`` and ``incident_id`` are read from ``spec``.

    Raises
    ------
    StorageError
        Unknown status, a spec without ``requester_id``/``incident_id``, or a taken id.
    """
    _check_status(status)
    missing = [k for k in ("requester_id", "incident_id") if not spec.get(k)]
    if missing:
        raise StorageError(f"request {request_id!r}: spec has no {' or '.join(missing)}")
    if session.get(PriorityRequestRow, request_id) is not None:
        raise StorageError(f"a request {request_id!r} is stored already")
    now = as_utc(at) if at is not None else utcnow()
    row = PriorityRequestRow(
        request_id=request_id,
        principal=principal,
        requester_id=str(spec["requester_id"]),
        incident_id=str(spec["incident_id"]),
        status=status,
        spec=canonical_json(dict(spec)),
        detail=canonical_json(dict(detail or {})),
        created_at=now,
        updated_at=now,
        created_s=created_s,
        last_heard_s=created_s,
        last_position_seq=0,
    )
    session.add(row)
    session.flush()
    return _request(row)


def update_request(
    session: Session,
    request_id: str,
    *,
    status: str | None = None,
    detail: Mapping[str, Any] | None = None,
    last_heard_s: float | None = None,
    at: datetime | None = None,
) -> StoredRequest:
    """Change a request's status, detail (replaced whole) or last-heard time."""
    row = _row(session, request_id, lock=True)
    if status is not None:
        row.status = _check_status(status)
    if detail is not None:
        row.detail = canonical_json(dict(detail))
    if last_heard_s is not None:
        row.last_heard_s = last_heard_s
    row.updated_at = as_utc(at) if at is not None else utcnow()
    session.flush()
    return _request(row)


def exists(session: Session, request_id: str) -> bool:
    """Whether a request is stored under this id."""
    return session.get(PriorityRequestRow, request_id) is not None


def get_request(session: Session, request_id: str) -> StoredRequest:
    """The stored request; :class:`~clearway.errors.UnknownRequestError` if there is none."""
    return _request(_row(session, request_id))


def active_requests(session: Session) -> list[StoredRequest]:
    """Requests not yet finished (requested, planned, active), oldest first: what a restarted
    service takes up again."""
    rows = session.scalars(
        select(PriorityRequestRow)
        .where(PriorityRequestRow.status.in_(ACTIVE_STATUSES))
        .order_by(PriorityRequestRow.created_at, PriorityRequestRow.request_id)
    )
    return [_request(r) for r in rows]


def add_position(
    session: Session,
    request_id: str,
    *,
    time_s: float,
    speed_mps: float,
    edge_id: str | None = None,
    offset_m: float | None = None,
    lon: float | None = None,
    lat: float | None = None,
    heading_deg: float | None = None,
    accuracy_m: float | None = None,
    measured_at: datetime | None = None,
    at: datetime | None = None,
) -> StoredPosition:
    """Store a position update of the request's vehicle; it gets the request's next ``seq``
    and becomes the request's last-heard time."""
    if edge_id is None and (lon is None or lat is None):
        raise StorageError(f"position of {request_id!r} needs edge_id or lon and lat")
    row = _row(session, request_id, lock=True)
    now = as_utc(at) if at is not None else utcnow()
    row.last_position_seq += 1
    row.last_position_at = now
    row.last_heard_s = time_s
    row.updated_at = now
    pos = PositionRow(
        request_id=request_id,
        seq=row.last_position_seq,
        recorded_at=now,
        time_s=time_s,
        edge_id=edge_id,
        offset_m=offset_m,
        lon=lon,
        lat=lat,
        speed_mps=speed_mps,
        heading_deg=heading_deg,
        accuracy_m=accuracy_m,
        measured_at=as_utc(measured_at) if measured_at is not None else None,
    )
    session.add(pos)
    session.flush()
    return _position(pos)


@dataclass(frozen=True, slots=True)
class NewPosition:
    """A position to store, as sent: time (traffic s), speed (m/s), and a road place (edge,
    offset m) or a GPS fix (lon, lat deg; heading deg from north, accuracy m, if sent);
    ``measured_at`` the sender's UTC time stamp, if it sent one."""

    request_id: str
    time_s: float
    speed_mps: float
    edge_id: str | None = None
    offset_m: float | None = None
    lon: float | None = None
    lat: float | None = None
    heading_deg: float | None = None
    accuracy_m: float | None = None
    measured_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.edge_id is None and (self.lon is None or self.lat is None):
            raise StorageError(f"position of {self.request_id!r} needs edge_id or lon and lat")


_REQ = PriorityRequestRow.__table__
#: The hot path's statements, built once: a statement object built per call costs more in
#: SQLAlchemy's construction and cache-key work than the database spends running it.
_MARKS = select(_REQ.c.request_id, _REQ.c.last_position_seq, _REQ.c.detail).where(
    _REQ.c.request_id.in_(bindparam("ids", expanding=True))
)
_MARKS_LOCKED = _MARKS.with_for_update()
_SET_MARKS = (
    update(_REQ)
    .where(_REQ.c.request_id == bindparam("rid"))
    .values(
        last_position_seq=bindparam("seq"),
        last_heard_s=bindparam("heard"),
        last_position_at=bindparam("at"),
        updated_at=bindparam("at_updated"),
        detail=bindparam("new_detail"),
    )
)
_INSERT_POSITIONS = insert(PositionRow.__table__)


def add_positions(
    session: Session, new: list[NewPosition], *, marks: Mapping[str, Mapping[str, Any]] = {}
) -> list[int]:
    """Store many positions at once; each request's row is read (and locked) once, its
    positions numbered on from its last, and ``marks[request_id]`` merged into its detail.
    Returns each position's number, in order. Core statements built once, run on the
    session's connection: this is the service's hottest write (three statements for
    hundreds of updates).

    Raises
    ------
    UnknownRequestError
        A request is not stored; nothing of the call is.
    """
    if not new:
        return []
    conn = session.connection()
    ids = sorted({p.request_id for p in new})
    query = _MARKS if conn.dialect.name == "sqlite" else _MARKS_LOCKED
    found = {
        r.request_id: (r.last_position_seq, r.detail) for r in conn.execute(query, {"ids": ids})
    }
    missing = [rid for rid in ids if rid not in found]
    if missing:
        known = session.scalars(select(PriorityRequestRow.request_id).limit(1000))
        raise UnknownRequestError(missing[0], known, where="the database")
    now = utcnow()
    last = {rid: seq for rid, (seq, _) in found.items()}
    heard: dict[str, float] = {}
    values: list[dict[str, Any]] = []
    numbers: list[int] = []
    for p in new:
        last[p.request_id] += 1
        heard[p.request_id] = p.time_s
        numbers.append(last[p.request_id])
        values.append(
            {
                "request_id": p.request_id, "seq": last[p.request_id], "recorded_at": now,
                "time_s": p.time_s, "edge_id": p.edge_id, "offset_m": p.offset_m,
                "lon": p.lon, "lat": p.lat, "speed_mps": p.speed_mps,
                "heading_deg": p.heading_deg, "accuracy_m": p.accuracy_m,
                "measured_at": as_utc(p.measured_at) if p.measured_at is not None else None,
            }
        )  # fmt: skip
    conn.execute(
        _SET_MARKS,
        [
            {
                "rid": rid,
                "seq": last[rid],
                "heard": heard[rid],
                "at": now,
                "at_updated": now,
                "new_detail": canonical_json({**json.loads(found[rid][1]), **marks[rid]})
                if marks.get(rid)
                else found[rid][1],
            }
            for rid in ids
        ],
    )
    conn.execute(_INSERT_POSITIONS, values)
    session.expire_all()  # rows the session holds were changed behind its back
    return numbers


_STATUSES = select(_REQ.c.request_id, _REQ.c.detail).where(
    _REQ.c.request_id.in_(bindparam("ids", expanding=True))
)
_STATUSES_LOCKED = _STATUSES.with_for_update()
_SET_STATUS = (
    update(_REQ)
    .where(_REQ.c.request_id == bindparam("rid"))
    .values(status=bindparam("new_status"), detail=bindparam("new_detail"),
            updated_at=bindparam("at"))
)  # fmt: skip


def update_statuses(
    session: Session, changes: Mapping[str, tuple[str, Mapping[str, Any]]]
) -> list[str]:
    """Set many requests' status and merge keys into their detail at once (what the live
    runtime writes after a tick): one read, one executemany, Core statements built once.
    The detail is read in this transaction, so keys other writers keep there (the position
    marks ``last_seq`` ...) stay. Ids not stored are skipped; returns the ids updated.

    Raises
    ------
    StorageError
        An unknown status; nothing of the call is written.
    """
    if not changes:
        return []
    for status, _ in changes.values():
        _check_status(status)
    conn = session.connection()
    query = _STATUSES if conn.dialect.name == "sqlite" else _STATUSES_LOCKED
    found = {r.request_id: r.detail for r in conn.execute(query, {"ids": sorted(changes)})}
    if not found:
        return []
    now = utcnow()
    conn.execute(
        _SET_STATUS,
        [
            {
                "rid": rid,
                "new_status": changes[rid][0],
                "new_detail": canonical_json({**json.loads(found[rid]), **changes[rid][1]}),
                "at": now,
            }
            for rid in sorted(found)
        ],
    )
    session.expire_all()  # rows the session holds were changed behind its back
    return sorted(found)


def positions(session: Session, request_id: str, *, limit: int = 1000) -> list[StoredPosition]:
    """The request's latest ``limit`` positions, oldest first."""
    rows = session.scalars(
        select(PositionRow)
        .where(PositionRow.request_id == request_id)
        .order_by(PositionRow.seq.desc())
        .limit(limit)
    ).all()
    return [_position(r) for r in reversed(rows)]


def prune_positions(
    session: Session, older_than_days: float | None = None, *, now: datetime | None = None
) -> int:
    """Delete positions recorded more than ``older_than_days`` ago (default: the retention
    period, :func:`retention_days`); returns how many were deleted. Requests stay."""
    days = retention_days(older_than_days)
    cutoff = (as_utc(now) if now is not None else utcnow()) - timedelta(days=days)
    result = session.execute(delete(PositionRow).where(PositionRow.recorded_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


#: Spec keys kept when a finished request's places are redacted (who, what for, not where).
_KEPT_SPEC = ("requester_id", "incident_id", "role", "importance", "lease_s", "max_duration_s")
#: Detail keys kept likewise.
_KEPT_DETAIL = ("desk_id", "reason", "simulated", "last_seq")


def redact_finished(
    session: Session, older_than_days: float | None = None, *, now: datetime | None = None
) -> int:
    """Remove the places (origin, destination, route, junctions) of requests finished more
    than ``older_than_days`` ago (default: the retention period); returns how many were
    redacted. Who asked, for which incident, when and how it ended stay — the audit trail
    needs them; where the vehicle went is personal data like its positions."""
    days = retention_days(older_than_days)
    cutoff = (as_utc(now) if now is not None else utcnow()) - timedelta(days=days)
    rows = session.scalars(
        select(PriorityRequestRow).where(
            PriorityRequestRow.status.in_(FINAL_STATUSES),
            PriorityRequestRow.updated_at < cutoff,
        )
    ).all()
    count = 0
    for row in rows:
        spec, detail = json.loads(row.spec), json.loads(row.detail)
        if detail.get("redacted"):
            continue
        row.spec = canonical_json({k: spec[k] for k in _KEPT_SPEC if k in spec})
        row.detail = canonical_json(
            {**{k: detail[k] for k in _KEPT_DETAIL if k in detail}, "redacted": True}
        )
        count += 1
    session.flush()
    return count


def _check_status(status: str) -> str:
    if status not in ACTIVE_STATUSES + FINAL_STATUSES:
        raise StorageError(
            f"unknown request status {status!r}; use one of "
            f"{', '.join(ACTIVE_STATUSES + FINAL_STATUSES)}"
        )
    return status


def _row(session: Session, request_id: str, *, lock: bool = False) -> PriorityRequestRow:
    # A locked read is for a change: always from the database (a Core write earlier in the
    # transaction, such as add_positions, is not in the session's identity map).
    row = session.get(
        PriorityRequestRow, request_id, with_for_update=lock or None, populate_existing=lock
    )
    if row is None:
        known = session.scalars(select(PriorityRequestRow.request_id).limit(1000))
        raise UnknownRequestError(request_id, known, where="the database")
    return row


def _request(r: PriorityRequestRow) -> StoredRequest:
    return StoredRequest(
        r.request_id,
        r.principal,
        r.requester_id,
        r.incident_id,
        r.status,
        json.loads(r.spec),
        json.loads(r.detail),
        as_utc(r.created_at),
        as_utc(r.updated_at),
        r.created_s,
        r.last_heard_s,
        r.last_position_seq,
        as_utc(r.last_position_at) if r.last_position_at is not None else None,
    )


def _position(p: PositionRow) -> StoredPosition:
    return StoredPosition(
        p.request_id,
        p.seq,
        as_utc(p.recorded_at),
        p.time_s,
        p.edge_id,
        p.offset_m,
        p.lon,
        p.lat,
        p.speed_mps,
        p.heading_deg,
        p.accuracy_m,
        as_utc(p.measured_at) if p.measured_at is not None else None,
    )
