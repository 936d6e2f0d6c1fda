"""Taking up, after a restart, the requests an earlier run of the service left unfinished.

The database holds every request's spec and status. On start, each unfinished one is handed
to the desk again, under its old id and owner: the twin starts afresh, so its junctions are
planned and held anew from the signals' safe state (they resume, they are not left half-held).
The traffic clock restarts with the twin, so the request leaves now and the earlier run's
time stamps (``last_time_s``) mean nothing any more; its ``seq`` still does. On field
controllers traffic time is UTC and runs on: a planned departure still ahead is kept. A request that
cannot be planned any more (the network changed) is stored as rejected, with the reason.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from clearway.control.priority.request import PriorityRequestSpec
from clearway.service.runtime_records import lifecycle_entry, request_detail
from clearway.storage import requests as request_store
from clearway.storage.audit import AuditEntry, AuditKind, append_entries
from clearway.storage.writer import DbWriter

if TYPE_CHECKING:
    from clearway.service.runtime import ServiceRuntime

log = logging.getLogger(__name__)


def _departure_s(runtime: ServiceRuntime, planned_s: object, now_s: float) -> float:
    """When a request taken up leaves: now — except on field controllers, whose traffic time
    (UTC) runs on across a restart: there a planned departure still ahead (a convoy booked for
    a later window) keeps its time, and its junctions are not cleared before it."""
    if runtime.field is not None and isinstance(planned_s, int | float) and planned_s > now_s:
        return float(planned_s)
    return now_s


def restore_requests(runtime: ServiceRuntime, writer: DbWriter) -> int:
    """Hand the stored unfinished requests to ``runtime``'s desk (under its lock, before it
    ticks); returns how many were taken up."""
    with writer.sessions() as s:
        stored = request_store.active_requests(s)
    if not stored:
        return 0
    desk, now = runtime.desk(), runtime.now_s()
    entries: list[AuditEntry] = []
    updates: dict[str, tuple[str, dict]] = {}
    taken = 0
    for st in stored:
        spec = PriorityRequestSpec.model_validate(
            {**st.spec, "depart_s": _departure_s(runtime, st.spec.get("depart_s"), now)}
        )
        detail = {k: v for k, v in st.detail.items() if k != "last_time_s"}
        simulated = bool(detail.get("simulated"))
        try:
            record = desk.submit(spec, now)
            if simulated:
                runtime.insert_vehicles(record)
        except Exception as exc:  # the network or the twin changed under it
            reason = f"could not be taken up after a restart: {exc}"
            updates[st.request_id] = ("rejected", {**detail, "reason": reason})
            entries.append(AuditEntry(
                AuditKind.REQUEST, request_id=st.request_id,
                payload={"event": "rejected", "state": "rejected", "reason": reason,
                         "time_s": now, "requester_id": st.requester_id,
                         "incident_id": st.incident_id},
            ))  # fmt: skip
            continue
        runtime.adopt(st.request_id, st.principal or "", record, simulated)
        updates[st.request_id] = (record.state.value, {**detail, **request_detail(record)})
        entries.append(lifecycle_entry(st.request_id, None, "restored", record, now))
        taken += 1

    def write(s: Session) -> None:
        for rid, (status, detail) in updates.items():
            request_store.update_request(s, rid, status=status, detail=detail)
        append_entries(s, entries)

    writer.run(write)
    log.info("took up %d of %d unfinished request(s) from the database", taken, len(stored))
    return taken
