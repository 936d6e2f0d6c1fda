"""The live feed over a WebSocket: authentication (handshake header or first message; a bad
credential closes with 4401 and is audited), then a snapshot and updates in which a request
made over HTTP turns its corridor's junctions granted and green for its movement, and the
twin's priority vehicle moves along its route."""

from __future__ import annotations

import time

import pytest
from starlette.websockets import WebSocketDisconnect

from clearway.service.runtime import ServiceRuntime

from .conftest import AMBULANCE, make_service, route_links

pytestmark = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]

BODY = AMBULANCE | {"vehicle_id": "AMB-F", "incident_id": "INC-F", "simulate": True}


@pytest.fixture
def live_feed(engine, sessions, live_scenario):
    """A live service at 10x real time with a feed message every 0.05 s (0.5 s simulated):
    fine enough to see each junction's grant, which lasts a few simulated seconds. (At the
    default 0.25 s a 50x service shows only every 12.5 s of its traffic.)"""
    runtime = ServiceRuntime(live_scenario, strategy="corridor", speed=10.0)
    svc = make_service(engine, sessions, None, runtime=runtime, feed_interval_s=0.05)
    with svc.client:
        yield svc
    assert runtime.error is None, runtime.error
    assert runtime.violations == [], runtime.violations[:5]  # the safety monitor saw none


def _messages(ws, timeout_s: float):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        yield ws.receive_json()


def test_feed_shows_the_corridor_turn_green_and_the_vehicle_move(live_feed):
    live = live_feed
    net = live.ctx.network
    with live.client.websocket_connect("/feed") as ws:
        ws.send_json({"type": "auth", "key": live.keys["viewer"]})
        hello = ws.receive_json()
        assert hello == {"type": "hello", "principal": "viewer", "role": "viewer"}
        snap = ws.receive_json()
        assert snap["type"] == "snapshot"
        listed = live.client.get("/junctions", headers=live.as_("viewer")).json()
        assert set(snap["signals"]) == {j["id"] for j in listed}
        assert set(snap["strategies"].values()) == {"fixed-time"}
        # Lane fill from the detectors: a share 0-1 per detected lane (aggregates only).
        assert snap["lanes"] and all(0.0 <= v <= 1.0 for v in snap["lanes"].values())
        assert set(snap["lanes"]) <= set(net.lanes)
        signals = dict(snap["signals"])

        r = live.client.post("/priority-requests", json=BODY, headers=live.as_("dispatcher"))
        assert r.status_code == 201, r.text
        rid, route = r.json()["request_id"], r.json()["route"]
        on_route = [j["signal_id"] for j in r.json()["junctions"]]
        assert len(on_route) >= 2

        green_granted: set[str] = set()
        places: list[tuple[str, float]] = []
        etas_seen = False
        for msg in _messages(ws, 40.0):
            assert msg["type"] == "update", msg
            signals.update(msg.get("signals", {}))
            for req in msg.get("requests", ()):
                if req["request_id"] != rid:
                    continue
                for j in req["junctions"]:
                    etas_seen |= j["eta_s"] is not None
                    ours = route_links(net, route, j["signal_id"])
                    if j["status"] == "granted" and all(
                        signals[j["signal_id"]][i] in "Gg" for i in ours
                    ):
                        green_granted.add(j["signal_id"])
            car = msg.get("vehicles", {}).get("AMB-F")
            if car is not None:
                assert car["edge_id"] in route or car["edge_id"].startswith(":")
                places.append((car["edge_id"], car["offset_m"]))
            moved = len({p for p in places}) >= 3
            if len(green_granted) >= 2 and moved and etas_seen:
                break
        assert len(green_granted) >= 2, (green_granted, on_route)
        assert len(set(places)) >= 3, places  # the marker moves
        assert etas_seen
        # Progress along the route never goes backwards.
        order = [route.index(e) for e, _ in places if e in route]
        assert order == sorted(order), places


def test_feed_accepts_a_header_credential_and_answers_pings(live_service):
    live = live_service
    with live.client.websocket_connect("/feed", headers=live.bearer("operator")) as ws:
        assert ws.receive_json()["role"] == "operator"
        assert ws.receive_json()["type"] == "snapshot"
        ws.send_json({"type": "ping"})
        for msg in _messages(ws, 10.0):
            if msg["type"] == "pong":
                break
        else:
            pytest.fail("no pong")


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "auth", "key": "cwk_00000000_not-a-real-key"},
        {"type": "auth", "token": "not.a.token"},
        {"type": "hello"},
        {"type": "auth"},
    ],
)
def test_feed_refuses_a_bad_credential_with_4401_and_audits_it(live_service, auth):
    live = live_service
    before = live.audit_kinds().count("auth.failed")
    with live.client.websocket_connect("/feed") as ws:
        ws.send_json(auth)
        err = ws.receive_json()
        assert err["type"] == "error" and err["error"] == "CredentialError", err
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401
    assert live.audit_kinds().count("auth.failed") == before + 1
