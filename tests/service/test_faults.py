"""Faults the live service survives: the simulator dying mid-corridor (noticed on the tick it
happens, reported, a fresh twin started with the request taken up again and every signal
back under the guard), and the database going away for a while (the signals keep running,
their audit records wait and are all written when it is back, the API says what is
degraded and refuses what it cannot store)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import OperationalError

from clearway.errors import SimulationError
from clearway.storage.audit import AuditLog

from .conftest import AMBULANCE

pytestmark = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]

BODY = AMBULANCE | {"vehicle_id": "AMB-F", "incident_id": "INC-F"}


def _until(cond, timeout_s: float = 15.0, every_s: float = 0.05):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(every_s)
    return cond()


def test_the_simulator_dies_mid_corridor(live_service):
    live = live_service
    rt = live.ctx.runtime
    r = live.client.post("/priority-requests", json=BODY, headers=live.as_("dispatcher"))
    rid = r.json()["request_id"]
    get = lambda: live.client.get(f"/priority-requests/{rid}", headers=live.as_("viewer")).json()  # noqa: E731
    assert _until(lambda: any(j["status"] == "granted" for j in get()["junctions"]))

    with rt.lock:  # the next step of the simulator fails as if SUMO had died
        twin = rt._wired.twin
        real = twin.advance

        def dies(dt_s):
            twin.advance = real
            raise SimulationError("SUMO died (connection closed)")

        twin.advance = dies
    health = _until(
        lambda: (h := live.client.get("/health").json())["runtime_recoveries"] >= 1 and h
    )
    assert health["runtime_recoveries"] == 1, health
    assert "SUMO died" in (health["runtime_error"] or "")
    assert rt._wired.twin is not twin  # a fresh twin
    # The request is still served, under the same id, on the new twin.
    status = _until(lambda: (s := get())["state"] in ("planned", "active") and any(
        j["status"] == "granted" for j in s["junctions"]) and s)  # fmt: skip
    assert status and status["request_id"] == rid, status
    time.sleep(1.0)  # some ticks on the new twin
    with rt.lock:
        assert rt._wired.monitor.violations == []
        assert rt._wired.loop.stats.not_taken_over == []  # every signal under the guard
    events = [
        rec["payload"]["event"]
        for rec in live.client.get(
            "/audit", params={"kind": "request", "request_id": rid}, headers=live.as_("operator")
        ).json()["records"]
    ]
    assert "restored" in events
    assert live.client.get("/health").json()["runtime"] == "running"


def test_the_database_goes_away_for_a_while(live_service, monkeypatch):
    live = live_service
    rt = live.ctx.runtime
    r = live.client.post("/priority-requests", json=BODY, headers=live.as_("dispatcher"))
    rid = r.json()["request_id"]
    real = rt.writer.sessions
    down = {"on": False}

    def sessions():
        if down["on"]:
            raise OperationalError("connect", {}, Exception("database is unreachable"))
        return real()

    monkeypatch.setattr(rt.writer, "sessions", sessions)
    v0 = rt.view()
    t0_s = v0.time_s
    down["on"] = True
    # The signals keep running; their audit batches wait.
    h = _until(lambda: (x := live.client.get("/health").json())["audit_backlog"] > 3 and x)
    assert h and h["status"] == "degraded" and any("audit" in d for d in h["degraded"]), h
    assert rt.view().version > v0.version and rt.view().signals != v0.signals
    # What must be stored before it is acknowledged is refused, saying why.
    r = live.client.post(
        f"/priority-requests/{rid}/positions",
        json={"seq": 1, "edge_id": "A0A1", "offset_m": 5.0, "speed_mps": 8.0},
        headers=live.as_("dispatcher"),
    )
    assert r.status_code == 503 and "not available" in r.json()["detail"], r.text
    t1_s = rt.view().time_s
    down["on"] = False
    assert _until(lambda: live.client.get("/health").json()["audit_backlog"] == 0)
    assert live.client.get("/health").json()["status"] == "ok"
    # Nothing was lost: the signal changes of the outage are in the chain, which verifies.
    log, records, after = AuditLog(live.ctx.sessions), [], 0
    while after is not None:
        page = log.query(kind="signal.approved", after_seq=after, limit=1000)
        records += page.records
        after = page.next_after_seq
    during = [x for x in records if t0_s < x.payload["time_s"] < t1_s]
    assert during, (t0_s, t1_s, len(records), sorted({x.payload["time_s"] for x in records})[:40])
    assert rt.writer.dropped == 0
    assert AuditLog(live.ctx.sessions).verify().ok
    # And the position is taken now.
    r = live.client.post(
        f"/priority-requests/{rid}/positions",
        json={"seq": 1, "edge_id": "A0A1", "offset_m": 5.0, "speed_mps": 8.0},
        headers=live.as_("dispatcher"),
    )
    assert r.status_code == 201, r.text


def test_a_database_that_cannot_be_reached_is_a_503_not_a_500(service, monkeypatch):
    """Every route: a database error is answered 503 naming it, never 500 (here the token
    check, which reads the key's state, meets an unreachable database)."""
    token = service.token("viewer")
    service.ctx.credentials.clear()

    def unreachable(*_a, **_k):
        raise OperationalError("SELECT", {}, Exception("could not connect to server"))

    monkeypatch.setattr(service.ctx, "sessions", unreachable)
    r = service.client.get("/junctions", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "StorageError" and "not available" in r.json()["detail"]
