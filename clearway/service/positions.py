"""Position updates of priority vehicles: ordered, stored and audited, group-committed.

Dispatch systems send a vehicle's position several times a second, and many vehicles at
once. Each update is checked for order (``seq`` and its time strictly increasing per request
— a stale or replayed update is refused) in memory, then stored — position row as sent (GPS
fix or road place), the request's last ``seq``/time and an audit record — by the process's
one database writer
(:class:`~clearway.storage.writer.DbWriter`), which commits every write waiting at that
moment together. The caller is answered only after the commit: an acknowledged update is
never lost, and its audit record is in the chain.

The order check lives in this process (the service runs one simulation per process); it is
loaded from the database for each request the first time it is used, so it survives a
restart. An update that cannot be written is refused (503) and its reservation released, so
the sender may resend the same ``seq``.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from clearway.control.priority.request import EdgePlace, LonLat
from clearway.errors import ConflictError, ServiceUnavailableError, StorageError
from clearway.service.clock import iso_utc, utc_datetime
from clearway.storage import requests as request_store
from clearway.storage.audit import AuditEntry, append_entries
from clearway.storage.writer import WAIT_S, DbWriter

#: Audit kind of an accepted position update (no place in the payload: positions are personal
#: data kept only for the retention period, the audit log is kept for good).
POSITION_KIND = "request.position"


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """One accepted update, as stored.

    Attributes
    ----------
    seq, sent_time_s
        The sender's sequence number and the time it gave (traffic s: its ``time_s``, or
        its UTC ``timestamp`` on the traffic clock), if it sent them.
    time_s
        Time of the position: the one sent, else when it was received (traffic s).
    place, speed_mps
        Where (a road place, or a GPS fix as WGS84 lon/lat) and how fast (m/s).
    heading_deg, accuracy_m
        The GPS course (degrees clockwise from north) and 1-sigma error (m), if sent.
    sent_utc_s
        The sender's UTC time stamp (unix seconds), if it sent one.
    """

    request_id: str
    principal: str
    seq: int | None
    sent_time_s: float | None
    time_s: float
    place: EdgePlace | LonLat
    speed_mps: float
    heading_deg: float | None = None
    accuracy_m: float | None = None
    sent_utc_s: float | None = None

    def stored(self) -> request_store.NewPosition:
        """The row to store: what was sent."""
        edge = self.place if isinstance(self.place, EdgePlace) else None
        fix = self.place if isinstance(self.place, LonLat) else None
        return request_store.NewPosition(
            self.request_id, self.time_s, self.speed_mps,
            edge_id=edge.edge_id if edge else None, offset_m=edge.offset_m if edge else None,
            lon=fix.lon if fix else None, lat=fix.lat if fix else None,
            heading_deg=self.heading_deg, accuracy_m=self.accuracy_m,
            measured_at=utc_datetime(self.sent_utc_s) if self.sent_utc_s is not None else None,
        )  # fmt: skip


#: Last accepted (seq, time_s, UTC time stamp) of a request.
_Order = tuple[int | None, float | None, float | None]


class PositionRecorder:
    """Order checks in memory; stores through the process's database writer.

    Parameters
    ----------
    writer
        The database writer (running).
    """

    def __init__(self, writer: DbWriter) -> None:
        self.writer = writer
        self._order_lock = threading.Lock()
        #: Per request: last accepted (seq, time_s), stored or waiting to be.
        self._last: dict[str, _Order] = {}

    def forget(self, request_id: str) -> None:
        """Drop the in-memory order state of a request (it is loaded again if needed)."""
        with self._order_lock:
            self._last.pop(request_id, None)

    def record(self, rec: PositionRecord) -> int:
        """Check the update's order, store and audit it; returns its stored number (1, 2 …).

        Raises
        ------
        ConflictError
            ``seq`` or the time is not after the last accepted update's (409); nothing is
            stored.
        ServiceUnavailableError
            The database could not take it (503); nothing is stored, the same ``seq`` may be
            sent again.
        """
        previous, reserved = self._reserve(rec)
        try:
            return self.writer.wait(self.writer.submit_item(_store_many, rec))
        except (StorageError, SQLAlchemyError) as exc:
            self._release(rec.request_id, previous, reserved)
            raise ServiceUnavailableError(
                f"the position could not be stored ({exc}); send it again"
            ) from exc

    async def record_async(self, rec: PositionRecord) -> int:
        """:meth:`record` for the event loop: the commit is awaited, no thread is held."""
        if rec.request_id not in self._last:  # first update of the request: one read
            await run_in_threadpool(self._prime, rec.request_id)
        previous, reserved = self._reserve(rec)
        try:
            fut = self.writer.submit_item_async(_store_many, rec)
            return await asyncio.wait_for(fut, WAIT_S)
        except (StorageError, SQLAlchemyError, TimeoutError) as exc:
            self._release(rec.request_id, previous, reserved)
            reason = "no confirmation in time" if isinstance(exc, TimeoutError) else exc
            raise ServiceUnavailableError(
                f"the position could not be stored ({reason}); send it again"
            ) from exc

    def _prime(self, request_id: str) -> None:
        order = self._load(request_id)
        with self._order_lock:
            self._last.setdefault(request_id, order)

    def _reserve(self, rec: PositionRecord) -> tuple[_Order, _Order]:
        """(order before, order after) this update; ConflictError if it is out of order."""
        with self._order_lock:
            last = self._last.get(rec.request_id)
            if last is None:
                last = self._load(rec.request_id)
            last_seq, last_time, last_utc = last
            if rec.seq is not None and last_seq is not None and rec.seq <= last_seq:
                raise ConflictError(
                    f"seq {rec.seq} is not after the last one ({last_seq}): a stale or replayed "
                    "update; send a larger seq"
                )
            sent, utc = rec.sent_time_s, rec.sent_utc_s
            if utc is not None and last_utc is not None:
                # UTC against UTC: it holds across a restart of the twin's clock.
                # Stamps carry at most microseconds (RFC 3339 as sent, or unix s): the same
                # instant sent as a number and as text must compare equal.
                if round(utc, 6) <= round(last_utc, 6):
                    raise ConflictError(
                        f"timestamp {iso_utc(utc)} is not after the last accepted update's "
                        f"({iso_utc(last_utc)}): a stale, replayed or out-of-order update"
                    )
            elif sent is not None and last_time is not None and sent <= last_time:
                raise ConflictError(
                    f"time_s {sent} is not after the last update's ({last_time} s): a stale or "
                    "replayed update"
                )
            reserved = (
                rec.seq if rec.seq is not None else last_seq,
                sent if sent is not None else last_time,
                utc if utc is not None else last_utc,
            )
            self._last[rec.request_id] = reserved
            return last, reserved

    def _load(self, request_id: str) -> _Order:
        try:
            with self.writer.sessions() as s:
                detail = request_store.get_request(s, request_id).detail
        except SQLAlchemyError as exc:
            raise ServiceUnavailableError(
                f"the database is not available ({type(exc).__name__}); send the position again "
                "shortly"
            ) from exc
        return detail.get("last_seq"), detail.get("last_time_s"), detail.get("last_utc_s")

    def _release(self, request_id: str, previous: _Order, reserved: _Order) -> None:
        # Only if no later update was accepted since.
        with self._order_lock:
            if self._last.get(request_id) == reserved:
                self._last[request_id] = previous


def _store_many(session: Session, recs: list[PositionRecord]) -> list[int]:
    """The write of many updates together: position rows in one INSERT, each request's
    order marks once, one audit record each (one append to the chain)."""
    marks: dict[str, dict[str, Any]] = {}
    for rec in recs:
        m = marks.setdefault(rec.request_id, {})
        if rec.seq is not None:
            m["last_seq"] = rec.seq
        if rec.sent_time_s is not None:
            m["last_time_s"] = rec.sent_time_s
        if rec.sent_utc_s is not None:
            m["last_utc_s"] = rec.sent_utc_s
    numbers = request_store.add_positions(session, [r.stored() for r in recs], marks=marks)
    append_entries(
        session,
        [
            AuditEntry(
                POSITION_KIND,
                rec.principal,
                request_id=rec.request_id,
                payload={"seq": rec.seq, "stored_seq": n, "time_s": rec.time_s},
            )
            for rec, n in zip(recs, numbers, strict=True)
        ],
    )
    return numbers
