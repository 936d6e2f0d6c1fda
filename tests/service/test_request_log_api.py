"""``GET /audit/requests/{id}``: what the verified log says the corridor did for a request —
its decisions and the holds per junction — for operators on the dashboard."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from clearway.service.runtime_records import HOLD_ENDED_KIND
from clearway.storage.models import AuditRecordRow

from .conftest import AMBULANCE

pytestmark = pytest.mark.sumo


def _keys(obj) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


def _wait(svc, rid: str, timeout_s: float = 60.0) -> dict:
    end = time.monotonic() + timeout_s
    while True:
        out = svc.client.get(f"/priority-requests/{rid}", headers=svc.as_("viewer")).json()
        if out["state"] in ("completed", "expired", "cancelled"):
            return out
        assert time.monotonic() < end, out
        time.sleep(0.05)


def test_an_operator_reads_what_was_done_for_a_request_from_the_verified_log(live_service):
    svc = live_service
    body = AMBULANCE | {"simulate": True}
    r = svc.client.post("/priority-requests", json=body, headers=svc.as_("dispatcher"))
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]
    route_signals = {j["signal_id"] for j in r.json()["junctions"]}
    done = _wait(svc, rid)
    assert done["state"] == "completed", done

    r = svc.client.get(f"/audit/requests/{rid}", headers=svc.as_("operator"))
    assert r.status_code == 200, r.text
    log = r.json()
    assert log["request_id"] == rid
    events = [e["event"] for e in log["events"]]
    assert events[0] == "created" and events[-1] == "completed"
    assert log["served"] is not None and log["served"]["latency_ms"] >= 0
    # Holds only at signals of its route, each over a time span that makes sense.
    assert log["holds"], log
    for h in log["holds"]:
        assert h["signal_id"] in route_signals
        assert h["start_s"] <= (h["end_s"] if h["end_s"] is not None else float("inf"))
    assert log["verified_records"] > 0
    # Nothing of where the vehicle was: the log holds no positions.
    assert not _keys(log) & {"lat", "lon", "x_m", "y_m", "offset_m", "edge_id", "position"}


def test_each_finished_hold_is_audited_with_its_estimated_cost_to_others(live_service, sessions):
    """``hold.ended``: per junction held for the request, once its recovery is over, the hold
    and recovery times and the extra delay it caused others there, estimated from detector
    queues (a number, not a place)."""
    svc = live_service
    body = AMBULANCE | {"simulate": True}
    r = svc.client.post("/priority-requests", json=body, headers=svc.as_("dispatcher"))
    rid = r.json()["request_id"]
    route_signals = {j["signal_id"] for j in r.json()["junctions"]}
    assert _wait(svc, rid)["state"] == "completed"
    end = time.monotonic() + 60.0
    while True:
        with sessions() as s:
            rows = [
                (j, json.loads(p))
                for j, p in s.execute(
                    select(AuditRecordRow.junction_id, AuditRecordRow.payload).where(
                        AuditRecordRow.kind == HOLD_ENDED_KIND
                    )
                )
            ]
        mine = [(j, p) for j, p in rows if rid in p["request_ids"]]
        if mine and {j for j, _ in mine} >= _held_signals(svc, rid):
            break
        assert time.monotonic() < end, (mine, rows)
        time.sleep(0.1)
    for junction, p in mine:
        assert junction in route_signals
        assert p["hold_s"] > 0 and p["recovery_s"] is not None and p["recovery_s"] >= 0
        assert isinstance(p["others_delay_veh_h"], float), p  # the corridor reads detectors
        assert abs(p["others_delay_veh_h"]) < 5.0, p  # one junction, one light-traffic hold
        assert not _keys(p) & {"lat", "lon", "edge_id", "offset_m", "position", "route"}


def _held_signals(svc, rid: str) -> set[str]:
    log = svc.client.get(f"/audit/requests/{rid}", headers=svc.as_("operator")).json()
    return {h["signal_id"] for h in log["holds"] if h["end_s"] is not None}


def test_the_request_log_needs_audit_rights_and_a_known_request(live_service):
    svc = live_service
    rid = "pr-0123456789abcdef"
    for role in ("viewer", "dispatcher"):
        r = svc.client.get(f"/audit/requests/{rid}", headers=svc.as_(role))
        assert r.status_code == 403, (role, r.text)
    r = svc.client.get(f"/audit/requests/{rid}", headers=svc.as_("operator"))
    assert r.status_code == 404, r.text
    assert rid in r.json()["detail"]
    r = svc.client.get("/audit/requests/not-an-id", headers=svc.as_("operator"))
    assert r.status_code == 422, r.text


def test_an_operator_re_runs_a_past_request_against_the_other_strategies(live_service):
    """``POST /audit/requests/{id}/replay`` starts the re-run in the background (202; again
    while it runs: 200, the same job); ``GET`` polls it to ``done`` with the comparison of
    none, local and corridor on the logged demand, and the time-space diagram is a PNG."""
    svc = live_service
    r = svc.client.post("/priority-requests", json=AMBULANCE | {"simulate": True},
                        headers=svc.as_("dispatcher"))  # fmt: skip
    rid = r.json()["request_id"]
    assert _wait(svc, rid)["state"] == "completed"
    url = f"/audit/requests/{rid}/replay"
    assert svc.client.get(url, headers=svc.as_("operator")).status_code == 404  # none yet
    first = svc.client.post(url, headers=svc.as_("operator"))
    assert first.status_code == 202, first.text
    assert first.json()["status"] in ("queued", "running")
    again = svc.client.post(url, headers=svc.as_("operator"))
    assert again.status_code in (200, 202)
    end = time.monotonic() + 240.0
    while True:
        job = svc.client.get(url, headers=svc.as_("operator")).json()
        if job["status"] in ("done", "failed"):
            break
        assert time.monotonic() < end, job
        time.sleep(0.5)
    assert job["status"] == "done", job["error"]
    comparison = job["report"]["comparison"]
    assert {"none", "local", "corridor"} <= set(comparison), comparison
    assert job["report"]["verified"]["ok"]
    png = svc.client.get(f"{url}/figure", headers=svc.as_("operator"))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    # Reading the log is an operator's right: a viewer may not start a re-run.
    assert svc.client.post(url, headers=svc.as_("viewer")).status_code == 403
    assert svc.client.post("/audit/requests/pr-0123456789abcdef/replay",
                           headers=svc.as_("operator")).status_code == 404  # fmt: skip
