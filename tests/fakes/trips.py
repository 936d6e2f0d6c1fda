"""Requests written the way the live service writes them (row + lifecycle audit records), for
the public transparency report's tests."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import count

from sqlalchemy.orm import Session, sessionmaker

from clearway.control.priority.desk import RecoveryRecord
from clearway.service.runtime_records import hold_entry
from clearway.storage.audit import AuditEntry, AuditKind, append_entries
from clearway.storage.db import write_session
from clearway.storage.requests import save_request

_ids = count(1)
#: Private fields of every trip the helpers write: none may appear in a public report.
PRIVATE = ("dispatch-", "VEH-", "INC-", "req-")


def add_trip(
    sessions: sessionmaker[Session],
    at: datetime,
    *,
    role: str = "ambulance",
    outcome: str = "completed",
    trip_s: float = 100.0,
    route: tuple[str, ...] = ("A0A1", "A1B1"),
    served: tuple[str, ...] = ("A1",),
    flagged: bool = False,
    restored: bool = False,
    hold_costs_veh_h: tuple[float | None, ...] = (),
) -> str:
    """Store one request created at ``at`` (UTC) and its records: created, served, active
    (traffic time 1000 s), then ``outcome`` ``trip_s`` later (none for ``unfinished``); and a
    ``hold.ended`` record per ``hold_costs_veh_h`` (the hold's estimated cost, veh·h), as the
    service writes them."""
    n = next(_ids)
    rid, owner = f"req-{n:05d}", f"dispatch-{n % 3}"
    spec = {"requester_id": f"VEH-{n}", "incident_id": f"INC-{n}", "role": role,
            "importance": 10, "lease_s": 30.0}  # fmt: skip
    if role == "convoy":
        spec["convoy"] = {"vehicle_count": 3, "length_m": 40.0, "cruise_speed_mps": 10.0}
    base = {"requester_id": spec["requester_id"], "incident_id": spec["incident_id"]}

    def rec(event: str, state: str, time_s: float, dt_s: float, **extra) -> AuditEntry:
        payload = {"event": event, "state": state, "reason": "", "time_s": time_s, **base}
        return AuditEntry(AuditKind.REQUEST, owner if event == "created" else None,
                          request_id=rid, payload=payload | extra,
                          at=at + timedelta(seconds=dt_s))  # fmt: skip

    entries = [
        rec("created", "planned", 990.0, 0.0),
        rec("served", "planned", 990.5, 0.5, commanded=list(served), waiting=[], latency_ms=3.0),
        rec("updated", "active", 1000.0, 10.0),
    ]
    if restored:
        entries.append(rec("restored", "active", 5.0, 20.0))
    if flagged:
        entries.append(AuditEntry("request.flagged", request_id=rid, at=at + timedelta(seconds=30),
                                  payload={"kind": "ImplausiblePositionError", "reason": "fast",
                                           "time_s": 1010.0, "owner": owner}))  # fmt: skip
    if outcome != "unfinished":
        entries.append(rec(outcome, outcome, 1000.0 + trip_s, 10.0 + trip_s))
    for k, cost in enumerate(hold_costs_veh_h):
        hold = RecoveryRecord(f"J{k}", ("desk",), 995.0, 1000.0 + trip_s, 1010.0 + trip_s, (), cost)
        entries.append(replace(hold_entry(hold, [rid]), at=at + timedelta(seconds=20 + trip_s)))
    status = "active" if outcome == "unfinished" else outcome
    with write_session(sessions) as s:
        save_request(s, rid, spec=spec, status=status, principal=owner,
                     detail={"route": list(route), "junctions": {}}, created_s=990.0, at=at)  # fmt: skip
        append_entries(s, entries)
    return rid


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def assert_no_private_data(report: dict, rids: list[str]) -> None:
    """No principal, request id, vehicle or incident id, route edge or position field."""
    text = json.dumps(report)
    for private in (*PRIVATE, *rids, "A0A1", "A1B1"):
        assert private not in text, private
    fields = {"lat", "lon", "x_m", "y_m", "offset_m", "edge_id", "route", "principal",
              "request_id", "requester_id", "incident_id", "vehicle_id", "owner", "position"}  # fmt: skip
    assert not fields & _keys(report), fields & _keys(report)
