"""The priority-request routes against the live runtime: a 3x3 grid in libsumo, the corridor
strategy, ticking at high speed in the app's lifespan."""

from __future__ import annotations

import time

import pytest

from clearway.storage import requests as request_store

from .conftest import AMBULANCE, db_snapshot, route_links

pytestmark = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]

BODY = dict(AMBULANCE)


def _create(live, role: str = "dispatcher", **changes) -> dict:
    r = live.client.post("/priority-requests", json=BODY | changes, headers=live.as_(role))
    assert r.status_code == 201, r.text
    return r.json()


def _wait(live, rid: str, done, timeout_s: float = 15.0) -> dict:
    end = time.monotonic() + timeout_s
    while True:
        r = live.client.get(f"/priority-requests/{rid}", headers=live.as_("viewer"))
        assert r.status_code == 200, r.text
        if done(r.json()) or time.monotonic() > end:
            return r.json()
        time.sleep(0.05)


def test_request_clears_the_way_and_cancels(live_service):
    live = live_service
    out = _create(live)
    rid = out["request_id"]
    assert out["state"] == "planned" and out["owner"] == "dispatcher"
    assert out["route"] == ["A0A1", "A1B1", "B1B2", "B2C2"]
    on_route = [j["signal_id"] for j in out["junctions"]]
    assert len(on_route) >= 2, out

    status = _wait(live, rid, lambda o: any(j["status"] == "granted" for j in o["junctions"]))
    assert any(j["status"] == "granted" for j in status["junctions"]), status
    # The published view shows green for the route's movement through a granted junction
    # (once its change interval, if it needs one, has run: a grant starts the change).
    route = status["route"]
    net = live.ctx.network

    def green_granted(snap) -> list[str]:
        granted = [s for s, st in snap.requests[rid].junctions.items() if st == "granted"]
        ours = {s: route_links(net, route, s) for s in granted}
        return [s for s in granted if ours[s] and all(snap.signals[s][i] in "Gg" for i in ours[s])]

    end = time.monotonic() + 15.0
    while not green_granted(snap := live.ctx.runtime.view()) and time.monotonic() < end:
        time.sleep(0.05)
    assert green_granted(snap), (snap.requests[rid].junctions, snap.signals)
    sid = green_granted(snap)[0]

    listed = live.client.get("/priority-requests", headers=live.as_("viewer")).json()
    assert [o["request_id"] for o in listed] == [rid]

    r = live.client.delete(f"/priority-requests/{rid}", headers=live.as_("dispatcher"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"
    assert _wait(live, rid, lambda o: True)["state"] == "cancelled"
    with live.ctx.sessions() as s:
        assert request_store.get_request(s, rid).status == "cancelled"

    audit = live.client.get("/audit", params={"limit": 1000}, headers=live.as_("operator")).json()
    kinds = [rec["kind"] for rec in audit["records"]]
    events = [rec["payload"]["event"] for rec in audit["records"] if rec["kind"] == "request"]
    assert events[0] == "created" and "cancelled" in events
    assert "signal.approved" in kinds
    assert any(
        rec["kind"] == "signal.approved" and rec["junction_id"] == sid for rec in audit["records"]
    )
    assert live.client.get("/audit/verify", headers=live.as_("operator")).json()["ok"]


def test_only_owner_or_operator_cancels(live_service):
    live = live_service
    rid = _create(live)["request_id"]
    r = live.client.delete(f"/priority-requests/{rid}", headers=live.as_("dispatcher2"))
    assert r.status_code == 403, r.text
    r = live.client.delete(f"/priority-requests/{rid}", headers=live.as_("operator"))
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text


def test_position_updates(live_service):
    live = live_service
    rid = _create(live)["request_id"]
    url = f"/priority-requests/{rid}/positions"
    pos = {"seq": 1, "edge_id": "A0A1", "offset_m": 10.0, "speed_mps": 8.0}
    r = live.client.post(url, json=pos, headers=live.as_("dispatcher"))
    assert r.status_code == 201, r.text
    assert r.json()["stored_seq"] == 1
    r = live.client.post(url, json=pos, headers=live.as_("dispatcher"))  # replayed
    assert r.status_code == 409 and "seq" in r.json()["detail"], r.text
    now = live.ctx.runtime.clock_s()
    r = live.client.post(url, json=pos | {"seq": 2, "time_s": now}, headers=live.as_("dispatcher"))
    assert r.status_code == 201, r.text
    r = live.client.post(
        url, json=pos | {"seq": 3, "time_s": now - 1.0}, headers=live.as_("dispatcher")
    )
    assert r.status_code == 409 and "time_s" in r.json()["detail"], r.text
    # Traffic time is judged in real seconds: at 50x, 1,000 traffic s ahead are 20 s ahead.
    r = live.client.post(
        url, json=pos | {"seq": 3, "time_s": now + 1000}, headers=live.as_("dispatcher")
    )
    assert r.status_code == 409 and "in the future" in r.json()["detail"], r.text
    r = live.client.post(url, json=pos | {"seq": 9}, headers=live.as_("dispatcher2"))
    assert r.status_code == 403, r.text
    r = live.client.post(url, json=pos | {"seq": 9})
    assert r.status_code == 401, r.text
    r = live.client.post(
        url, json=pos | {"seq": 9, "edge_id": "nowhere"}, headers=live.as_("dispatcher")
    )
    assert r.status_code == 404 and "edge_id" in r.json()["detail"], r.text
    with live.ctx.sessions() as s:
        stored = request_store.positions(s, rid)
    assert [p.seq for p in stored] == [1, 2]
    records = live.client.get(
        "/audit", params={"kind": "request.position"}, headers=live.as_("operator")
    ).json()["records"]
    assert [rec["payload"]["seq"] for rec in records] == [1, 2]
    assert all("edge_id" not in rec["payload"] for rec in records)  # no places in the audit log


def test_bad_input_changes_nothing(live_service, sessions):
    live = live_service
    before = db_snapshot(sessions)
    r = live.client.post(
        "/priority-requests", json=BODY | {"origin_edge": "A0A9"}, headers=live.as_("dispatcher")
    )
    assert r.status_code == 404, r.text
    assert "origin_edge" in r.json()["detail"] and "A0A9" in r.json()["detail"]
    r = live.client.post(
        "/priority-requests", json=BODY | {"origin_edge": ":A0_0"}, headers=live.as_("dispatcher")
    )
    assert r.status_code == 422 and "origin" in r.json()["detail"], r.text
    r = live.client.post(
        "/priority-requests", json=BODY | {"speed": 3}, headers=live.as_("dispatcher")
    )
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "body.speed", r.text
    r = live.client.post(
        "/priority-requests", json=BODY | {"role": "taxi"}, headers=live.as_("dispatcher")
    )
    assert r.status_code == 422, r.text
    r = live.client.get(f"/priority-requests/pr-{'0' * 16}", headers=live.as_("viewer"))
    assert r.status_code == 404, r.text
    assert db_snapshot(sessions) == before
    assert live.client.get("/priority-requests", headers=live.as_("viewer")).json() == []
    with live.ctx.sessions() as s:
        assert request_store.active_requests(s) == []


def test_routes_answer_503_without_runtime(service):
    r = service.client.get("/priority-requests", headers=service.as_("viewer"))
    assert r.status_code == 503, r.text


def test_positions_sent_over_http_drive_the_request(live_service):
    """A real deployment hears of its vehicle only through dispatch: positions posted over
    HTTP reach the controller, the request becomes active and its ETAs follow the vehicle."""
    live = live_service
    out = _create(live, vehicle_id="AMB-HTTP")
    rid, route = out["request_id"], out["route"]
    assert out["state"] == "planned"
    now = live.ctx.runtime.now_s()
    r = live.client.post(
        f"/priority-requests/{rid}/positions",
        json={"seq": 1, "time_s": now, "edge_id": route[1], "offset_m": 10.0, "speed_mps": 12.0},
        headers=live.as_("dispatcher"),
    )
    assert r.status_code == 201, r.text
    status = _wait(live, rid, lambda o: o["state"] == "active")
    assert status["state"] == "active", status
    # Heard of on the second edge: signals behind it are no longer ahead of it.
    first_signal = live.ctx.network.edge(route[0]).to_junction
    ahead = [j["signal_id"] for j in status["junctions"] if j["status"] != "recovering"]
    assert first_signal not in ahead, status
    etas = [j["eta_s"] for j in status["junctions"] if j["eta_s"] is not None]
    assert etas and all(e >= now for e in etas), status
    # Silence: the lease runs out (here 300 s of simulated time at 50x: about 6 s).
    expired = _wait(live, rid, lambda o: o["state"] == "expired", timeout_s=30.0)
    assert expired["state"] == "expired", expired
    assert all(j["status"] == "recovering" for j in expired["junctions"]), expired


def test_one_unfinished_request_per_vehicle(live_service):
    live = live_service
    first = _create(live, vehicle_id="AMB-DUP")
    r = live.client.post(
        "/priority-requests", json=BODY | {"vehicle_id": "AMB-DUP"}, headers=live.as_("operator")
    )
    assert r.status_code == 409 and first["request_id"] in r.json()["detail"], r.text
    live.client.delete(f"/priority-requests/{first['request_id']}", headers=live.as_("dispatcher"))
    assert _create(live, vehicle_id="AMB-DUP")["state"] == "planned"


def test_an_implausible_position_is_flagged_and_ignored(live_service):
    """A GPS glitch far away is stored (it is what dispatch sent) but flagged in the audit log
    and the status, and the controller does not follow it: the route stays as planned."""
    live = live_service
    out = _create(live, vehicle_id="AMB-GLITCH")
    rid, route = out["request_id"], out["route"]
    now = live.ctx.runtime.now_s()
    post = lambda seq, t, edge, off: live.client.post(  # noqa: E731
        f"/priority-requests/{rid}/positions",
        json={"seq": seq, "time_s": t, "edge_id": edge, "offset_m": off, "speed_mps": 10.0},
        headers=live.as_("dispatcher"),
    )
    assert post(1, now, route[0], 5.0).status_code == 201
    _wait(live, rid, lambda o: o["state"] == "active")
    far = "C2right2" if "C2right2" in live.ctx.network.edges else route[-1]
    assert post(2, now + 0.5, far, 150.0).status_code == 201
    status = _wait(live, rid, lambda o: o["flag"] is not None)
    assert status["flag"] and "moved" in status["flag"], status
    assert status["route"] == route  # not re-planned through the glitch
    audit = live.client.get(
        "/audit", params={"kind": "request.flagged", "request_id": rid},
        headers=live.as_("operator"),
    ).json()["records"]  # fmt: skip
    assert len(audit) == 1 and "moved" in audit[0]["payload"]["reason"]


def test_renewal_by_the_owner_only(live_service):
    live = live_service
    out = _create(live, vehicle_id="AMB-RENEW", max_duration_s=600)
    rid = out["request_id"]
    assert out["deadline_s"] == pytest.approx(out["created_s"] + 600, abs=2.0)
    r = live.client.post(f"/priority-requests/{rid}/renew", headers=live.as_("dispatcher2"))
    assert r.status_code == 403, r.text
    time.sleep(0.2)
    r = live.client.post(f"/priority-requests/{rid}/renew", headers=live.as_("dispatcher"))
    assert r.status_code == 200, r.text
    assert r.json()["deadline_s"] > out["deadline_s"]
    events = [
        rec["payload"]["event"]
        for rec in live.client.get(
            "/audit", params={"kind": "request", "request_id": rid}, headers=live.as_("operator")
        ).json()["records"]
    ]
    assert "renewed" in events
    live.client.delete(f"/priority-requests/{rid}", headers=live.as_("dispatcher"))
    assert (
        live.client.post(
            f"/priority-requests/{rid}/renew", headers=live.as_("dispatcher")
        ).status_code
        == 409
    )


def test_a_batch_of_positions_each_with_its_own_result(live_service):
    live = live_service
    a = _create(live, vehicle_id="AMB-B1")
    b = _create(live, vehicle_id="AMB-B2")
    other = _create(live, role="dispatcher2", vehicle_id="AMB-B3")
    now = live.ctx.runtime.now_s()

    def upd(req, seq, edge=None, **kw):
        return {"request_id": req["request_id"], "seq": seq, "time_s": now + seq * 0.5,
                "edge_id": edge or req["route"][0], "offset_m": 2.0 * seq, "speed_mps": 8.0} | kw  # fmt: skip

    batch = [upd(a, 1), upd(b, 1), upd(a, 2), upd(b, 2), upd(a, 2),  # the last: a replay
             upd(other, 1), upd(b, 3, edge="no-such-edge")]  # fmt: skip
    before = live.audit_kinds().count("request.position")
    r = live.client.post("/positions", json={"updates": batch}, headers=live.as_("dispatcher"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert [x["status"] for x in out["results"]] == [201, 201, 201, 201, 409, 403, 404]
    assert out["accepted"] == 4
    assert [x["stored_seq"] for x in out["results"][:4]] == [1, 1, 2, 2]
    assert "not after the last one" in out["results"][4]["detail"]
    assert live.audit_kinds().count("request.position") == before + 4
    assert _wait(live, a["request_id"], lambda o: o["state"] == "active")["state"] == "active"
    # Too many at once is refused whole, naming the field.
    r = live.client.post(
        "/positions", json={"updates": [upd(a, 10 + i) for i in range(501)]},
        headers=live.as_("dispatcher"),
    )  # fmt: skip
    assert r.status_code == 422 and "updates" in r.text


def test_coordinates_on_a_net_without_geo_reference_are_refused(live_service, sessions):
    """The 3x3 grid comes from netgenerate: it has no projection, so lat/lon name no place on
    it — refused (422) saying why, and nothing is stored."""
    live = live_service
    rid = _create(live, vehicle_id="AMB-NOGEO")["request_id"]
    before = db_snapshot(sessions)
    url = f"/priority-requests/{rid}/positions"
    gps = {"seq": 1, "lat": 52.43, "lon": 13.54, "speed_mps": 5.0}
    r = live.client.post(url, json=gps, headers=live.as_("dispatcher"))
    assert r.status_code == 422 and r.json()["error"] == "NoGeoReferenceError", r.text
    assert "no geo-reference" in r.json()["detail"] and "edge_id" in r.json()["detail"]
    coords = BODY | {"vehicle_id": "AMB-NOGEO2", "origin": {"lat": 52.43, "lon": 13.54}}
    del coords["origin_edge"]
    r = live.client.post("/priority-requests", json=coords, headers=live.as_("dispatcher"))
    assert r.status_code == 422 and "origin: this network has no geo-reference" in r.text, r.text
    # One place, one time: each refused with the rule broken.
    for bad, words in [
        (gps | {"edge_id": "A0A1"}, "not both"),
        ({"seq": 1, "lat": 52.43, "speed_mps": 5.0}, "both lat and lon"),
        ({"seq": 1, "speed_mps": 5.0}, "give the place"),
        (gps | {"offset_m": 3.0}, "offset_m goes with edge_id"),
        (gps | {"time_s": 1.0, "timestamp": 1.0}, "not both"),
        (gps | {"timestamp": "2026-12-07T10:00:00"}, "RFC 3339"),
    ]:
        r = live.client.post(url, json=bad, headers=live.as_("dispatcher"))
        assert r.status_code == 422 and words in r.text, (bad, r.text)
    assert db_snapshot(sessions) == before
