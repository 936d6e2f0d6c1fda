"""Positions and requests as the field sends them: WGS84 coordinates with heading and
accuracy, UTC time stamps (RFC 3339 or unix seconds), on a geo-referenced net (Berlin-
Adlershof from OpenStreetMap, in the eclipse-sumo wheel, with no other traffic: the twin
starts in about a second); and what is refused, with which status and why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from clearway.control.priority.request import LonLat, PositionUpdate
from clearway.evaluation.priority_scenarios import BERLIN_NET, BERLIN_TRIP
from clearway.network.geo import xy_to_lonlat
from clearway.network.geometry import edge_point
from clearway.service.runtime import ServiceRuntime
from clearway.sim.scenario import Scenario, user_scenario
from clearway.sim.sumo_env import sumo_home
from clearway.storage import requests as request_store

from .conftest import Service, make_service

pytestmark = [pytest.mark.sumo, pytest.mark.parametrize("backend", ["sqlite"])]

ORIGIN_EDGE, DESTINATION_EDGE = BERLIN_TRIP


@pytest.fixture(scope="module")
def berlin(tmp_path_factory) -> Scenario:
    out = tmp_path_factory.mktemp("berlin")
    routes = out / "none.rou.xml"
    # One car late in the hour keeps SUMO running (it ends when no vehicle is left to come).
    routes.write_text(
        f'<routes><trip id="keep-alive" depart="3500" from="{ORIGIN_EDGE}" '
        f'to="{DESTINATION_EDGE}"/></routes>\n'
    )
    return user_scenario(sumo_home() / BERLIN_NET, [routes], out, end_s=3600)


@pytest.fixture
def geo(engine, sessions, berlin) -> Iterator[tuple[Service, list[tuple[str, PositionUpdate]]]]:
    """A live service on Berlin at 20x real time, and what it hands the controller's feed;
    the twin has run 1.5 s of real time (samples of the last second are after its
    start)."""
    runtime = ServiceRuntime(berlin, strategy="corridor", speed=20.0)
    pushed: list[tuple[str, PositionUpdate]] = []
    real_push = runtime.push_position

    def spy(vehicle_id: str, update: PositionUpdate) -> None:
        pushed.append((vehicle_id, update))
        real_push(vehicle_id, update)

    runtime.push_position = spy  # type: ignore[method-assign]
    svc = make_service(engine, sessions, None, runtime=runtime)
    with svc.client:
        end = time.monotonic() + 5.0
        while runtime.clock_s() < 30.0 and time.monotonic() < end:
            time.sleep(0.05)
        yield svc, pushed
    assert runtime.violations == [], runtime.violations[:5]


def _lonlat(svc: Service, edge: str, offset_m: float) -> tuple[float, float]:
    net = svc.ctx.network
    assert net is not None and net.geo is not None
    return xy_to_lonlat(net.geo, *edge_point(net, edge, offset_m))


def _create(svc: Service, **places) -> dict:
    body = {"vehicle_id": "AMB-GPS", "role": "ambulance", "incident_id": "INC-G", "lease_s": 300}
    r = svc.client.post(
        "/priority-requests", json=body | places, headers=svc.as_("dispatcher")
    )
    assert r.status_code == 201, r.text
    return r.json()


def _rfc3339(utc_s: float) -> str:
    return datetime.fromtimestamp(utc_s, UTC).isoformat().replace("+00:00", "Z")


def test_gps_positions_reach_the_feed_and_are_stored_as_sent(geo):
    svc, pushed = geo
    out = _create(svc, origin_edge=ORIGIN_EDGE, destination_edge=DESTINATION_EDGE)
    rid, url = out["request_id"], f"/priority-requests/{out['request_id']}/positions"
    lon, lat = _lonlat(svc, ORIGIN_EDGE, 20.0)
    sent = time.time() - 0.5
    fix = {"lat": lat, "lon": lon, "heading_deg": 93.5, "accuracy_m": 4.0, "speed_mps": 9.0}
    r = svc.client.post(
        url, json=fix | {"seq": 1, "timestamp": _rfc3339(sent)}, headers=svc.as_("dispatcher")
    )
    assert r.status_code == 201, r.text
    accepted = r.json()
    clock = svc.ctx.traffic_clock()
    assert clock is not None
    # The sample keeps its own time, as traffic time and in UTC.
    assert accepted["time_s"] == pytest.approx(clock.to_traffic_s(sent), abs=2.0)
    got_utc = datetime.fromisoformat(accepted["time_utc"]).timestamp()
    assert got_utc == pytest.approx(sent, abs=0.01)
    vehicle, update = pushed[-1]
    assert vehicle == "AMB-GPS" and update.place == LonLat(lon=lon, lat=lat)
    assert (update.heading_deg, update.accuracy_m, update.speed_mps) == (93.5, 4.0, 9.0)
    assert update.time_s == accepted["time_s"]
    # Unix seconds too.
    r = svc.client.post(
        url, json=fix | {"seq": 2, "timestamp": time.time()}, headers=svc.as_("dispatcher")
    )
    assert r.status_code == 201, r.text
    assert pushed[-1][1].time_s > update.time_s

    # The live view draws the fix where it was sent (network x/y of its lat/lon).
    end = time.monotonic() + 5.0
    while "AMB-GPS" not in svc.ctx.runtime.view().vehicles and time.monotonic() < end:
        time.sleep(0.05)
    shown = svc.ctx.runtime.view().vehicles["AMB-GPS"]
    x_m, y_m = edge_point(svc.ctx.network, ORIGIN_EDGE, 20.0)
    assert (shown.x_m, shown.y_m) == (pytest.approx(x_m, abs=0.01), pytest.approx(y_m, abs=0.01))

    with svc.ctx.sessions() as s:
        stored = request_store.positions(s, rid)
    assert [(p.lat, p.lon, p.heading_deg, p.accuracy_m) for p in stored] == [
        (lat, lon, 93.5, 4.0)
    ] * 2
    assert stored[0].measured_at is not None
    assert stored[0].measured_at.timestamp() == pytest.approx(sent, abs=1e-5)
    assert stored[0].edge_id is None
    records = svc.client.get(
        "/audit", params={"kind": "request.position", "request_id": rid},
        headers=svc.as_("operator"),
    ).json()["records"]  # fmt: skip
    assert [set(rec["payload"]) for rec in records] == [{"seq", "stored_seq", "time_s"}] * 2
    # The status reports ETAs in UTC beside traffic time, and so does the junction's state.
    end = time.monotonic() + 5.0
    while True:
        status = svc.client.get(f"/priority-requests/{rid}", headers=svc.as_("viewer")).json()
        timed = [j for j in status["junctions"] if j["eta_s"] is not None]
        if timed or time.monotonic() > end:
            break
        time.sleep(0.05)
    assert timed, status
    there = svc.client.get(
        f"/junctions/{timed[0]['signal_id']}/state", headers=svc.as_("viewer")
    ).json()["requests"]
    ours = next(r for r in there if r["request_id"] == rid)
    assert ours["eta_s"] is not None and ours["eta_utc"] is not None, there
    for j in timed:
        eta_utc = datetime.fromisoformat(j["eta_utc"]).timestamp()
        assert eta_utc == pytest.approx(svc.ctx.traffic_clock().to_utc_s(j["eta_s"]), abs=1.0)


def test_old_future_and_out_of_order_samples_are_refused(geo):
    svc, pushed = geo
    out = _create(svc, origin_edge=ORIGIN_EDGE, destination_edge=DESTINATION_EDGE)
    url = f"/priority-requests/{out['request_id']}/positions"
    lon, lat = _lonlat(svc, ORIGIN_EDGE, 20.0)
    fix = {"lat": lat, "lon": lon, "speed_mps": 9.0}
    post = lambda **kw: svc.client.post(url, json=fix | kw, headers=svc.as_("dispatcher"))  # noqa: E731
    now = time.time()
    r = post(timestamp=now - 30.0)
    assert r.status_code == 409 and r.json()["error"] == "SampleTimeError", r.text
    detail = r.json()["detail"]
    assert "old" in detail and "limit of 10 s" in detail and "now 20" in detail
    assert _rfc3339(now - 30.0)[:19] in detail
    r = post(timestamp=now + 60.0)
    assert r.status_code == 409 and "future" in r.json()["detail"], r.text
    assert "tolerance of 2 s" in r.json()["detail"]
    assert post(timestamp=now - 0.4).status_code == 201
    r = post(timestamp=now - 0.8)  # older than the one accepted
    assert r.status_code == 409 and "not after the last accepted" in r.json()["detail"], r.text
    r = post(timestamp=_rfc3339(now - 0.4))  # the same instant again, as RFC 3339
    assert r.status_code == 409 and "not after the last accepted" in r.json()["detail"], r.text
    assert len(pushed) == 1  # only the accepted one reached the controller


def test_requests_by_coordinates(geo):
    svc, _ = geo
    o_lon, o_lat = _lonlat(svc, ORIGIN_EDGE, 10.0)
    d_lon, d_lat = _lonlat(svc, DESTINATION_EDGE, 10.0)
    out = _create(
        svc, origin={"lat": o_lat, "lon": o_lon}, destination={"lat": d_lat, "lon": d_lon}
    )
    assert out["route"][0] == ORIGIN_EDGE or ORIGIN_EDGE in out["route"][:2], out["route"]
    # Its times in UTC too: created a moment ago (one tick is 1/20 s), the lease 300 traffic
    # seconds (15 s at 20x) later.
    created = datetime.fromisoformat(out["created_utc"]).timestamp()
    assert abs(created - time.time()) < 2.0, out
    lease = datetime.fromisoformat(out["lease_expires_utc"]).timestamp()
    assert lease - created == pytest.approx(
        (out["lease_expires_s"] - out["created_s"]) / 20.0, abs=1e-3
    )
    assert out["route"][-1] == DESTINATION_EDGE or DESTINATION_EDGE in out["route"][-2:]
    # A coordinate no lane is near: 422 naming the field and the distance.
    body = {"vehicle_id": "AMB-FAR", "role": "ambulance", "incident_id": "INC-G",
            "origin_edge": ORIGIN_EDGE, "destination": {"lat": d_lat + 0.05, "lon": d_lon}}  # fmt: skip
    r = svc.client.post("/priority-requests", json=body, headers=svc.as_("dispatcher"))
    assert r.status_code == 422, r.text
    assert "destination (lat" in r.json()["detail"] and "m away" in r.json()["detail"], r.text
    # Exactly one form per place.
    r = svc.client.post(
        "/priority-requests",
        json=body | {"destination_edge": DESTINATION_EDGE},
        headers=svc.as_("dispatcher"),
    )
    assert r.status_code == 422 and "destination" in r.text, r.text
    r = svc.client.post(
        "/convoys",
        json={"convoy_id": "CONVOY-G", "incident_id": "OP-1", "vehicle_count": 4,
              "length_m": 60, "cruise_speed_mps": 10, "origin": {"lat": o_lat, "lon": o_lon},
              "destination_edge": DESTINATION_EDGE},  # fmt: skip
        headers=svc.as_("dispatcher"),
    )
    assert r.status_code == 201, r.text
