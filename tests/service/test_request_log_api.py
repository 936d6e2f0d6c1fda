"""``GET /audit/requests/{id}``: what the verified log says the corridor did for a request —
its decisions and the holds per junction — for operators on the dashboard."""

from __future__ import annotations

import time

import pytest

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
