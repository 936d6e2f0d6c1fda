"""``POST /transit/gtfs-rt`` with VehiclePositions (lat, lon, bearing, speed, timestamp,
trip): each is map matched onto its trip's line and reaches the bus board as a position of
``/transit/positions`` does; one that is stale, from the future, off the line or far from
every lane is refused for that bus with a reason (audited, no coordinates), the others are
taken. And the schedule is placed in UTC with agency.txt's time zone."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from google.transit import gtfs_realtime_pb2

from clearway.control.priority.gtfs import ServiceDays
from clearway.service.transit_feed import TransitDesk
from tests.fakes.transit import POSITION, add_vehicle_position, lat_lon, tiny_gtfs, with_geo

from .conftest import make_service


@pytest.fixture
def geo_net(grid_net):
    return with_geo(grid_net)


@pytest.fixture
def gtfs(tmp_path, grid_net):
    return tiny_gtfs(tmp_path / "feed", grid_net)


@pytest.fixture
def svc(engine, sessions, geo_net, gtfs):
    return make_service(engine, sessions, geo_net, gtfs_dir=str(gtfs))


def _desk(svc, gtfs, day_start_s: float) -> TransitDesk:
    svc.ctx.transit = TransitDesk(gtfs, day_start_s, net=svc.ctx.network)
    return svc.ctx.transit


def _message(now: float) -> gtfs_realtime_pb2.FeedMessage:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = int(now)
    return msg


def _post(svc, msg, role: str = "operator"):
    return svc.client.post(
        "/transit/gtfs-rt", content=msg.SerializeToString(),
        headers={**svc.as_(role), "Content-Type": "application/x-protobuf"},
    )  # fmt: skip


def _feed_events(svc) -> list[dict]:
    return [r.payload for r in svc.ctx.audit.query(kind="transit.feed").records]


def test_a_vehicle_position_is_matched_and_gets_a_late_bus_what_a_road_position_does(svc, gtfs):
    now = float(int(time.time()))
    desk = _desk(svc, gtfs, now - 1100.0 - 90.0)  # s1 (150 m on B1C1) was due 90 s ago
    msg = _message(now)
    lat, lon = lat_lon(svc.ctx.network, "B1C1", 150.0, dy_m=3.0)
    add_vehicle_position(msg, "bus7", "L.0", lat, lon, now, bearing_deg=90.0, speed_mps=7.0)
    r = _post(svc, msg, role="dispatcher")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["positions"] == 1 and out["refused"] == [] and out["accepted"] == 1
    (late,) = out["lateness"]
    assert late["id"] == "bus7" and late["lateness_s"] == pytest.approx(90.0, abs=3.0)
    assert late["qualifies"] is True
    # The board holds it as a bus on its line: the controller's BusSource gives the same
    # approach as the road position of /transit/positions would.
    (matched,) = desk.bus_approaches(now)
    svc.client.post("/transit/positions", json={"positions": [POSITION | {"time_s": now + 1}]},
                    headers=svc.as_("dispatcher"))  # fmt: skip
    (road,) = desk.bus_approaches(now + 1)
    assert (matched.vehicle_id, matched.edge_id, matched.next_edge_id) == (
        road.vehicle_id, road.edge_id, road.next_edge_id
    )  # fmt: skip
    assert matched.offset_m == pytest.approx(road.offset_m, abs=3.0)
    assert matched.lateness_s == pytest.approx(road.lateness_s - 1.0, abs=3.0)
    assert matched.speed_mps == pytest.approx(7.0)
    buses = svc.client.get("/transit/buses", headers=svc.as_("viewer")).json()
    assert [(b["vehicle_id"], b["edge_id"], b["qualifies"]) for b in buses] == [
        ("bus7", "B1C1", True)
    ]
    event = _feed_events(svc)[0]
    assert event["format"] == "gtfs-rt" and event["positions"] == 1
    text = json.dumps(event)
    assert f"{lat:.4f}" not in text and f"{lon:.4f}" not in text  # no place in the audit


def test_unusable_positions_are_refused_per_bus_with_a_reason(svc, gtfs):
    now = float(int(time.time()))
    _desk(svc, gtfs, now - 1190.0)
    net = svc.ctx.network
    msg = _message(now)
    good = lat_lon(net, "A1B1", 100.0)
    add_vehicle_position(msg, "ok", "L.0", *good, now)
    add_vehicle_position(msg, "old", "L.0", *good, now - 120.0)
    add_vehicle_position(msg, "ahead", "L.0", *good, now + 60.0)
    add_vehicle_position(msg, "parallel", "L.0", *lat_lon(net, "A0B0", 100.0), now)
    add_vehicle_position(msg, "nowhere", "L.0", *lat_lon(net, "A1B1", 100.0, dy_m=900.0), now)
    add_vehicle_position(msg, "ghost", "NOPE.1", *good, now)
    add_vehicle_position(msg, "depot", "", *good, now)  # on no trip: ignored
    r = _post(svc, msg)
    assert r.status_code == 200, r.text
    out = r.json()
    assert [x["id"] for x in out["lateness"]] == ["ok"] and out["positions"] == 1
    assert out["unknown_trips"] == ["NOPE.1"]
    reasons = {x["vehicle_id"]: x["reason"] for x in out["refused"]}
    assert reasons == {"old": "stale", "ahead": "future", "parallel": "off_line",
                       "nowhere": "no_lane"}  # fmt: skip
    details = {x["vehicle_id"]: x["detail"] for x in out["refused"]}
    assert "old" in details["old"] and "future" in details["ahead"]
    assert "off line 'L'" in details["parallel"] and "within 40 m" in details["nowhere"]
    event = _feed_events(svc)[0]
    assert event["refused_positions"] == reasons and event["positions"] == 1
    # The same feed again (a poller's repeat) changes nothing and is no refusal.
    r = _post(svc, msg)
    assert r.json()["repeated"] == 1 and r.json()["positions"] == 0
    assert [b["vehicle_id"] for b in svc.client.get("/transit/buses",
                                                    headers=svc.as_("viewer")).json()] == ["ok"]  # fmt: skip


def test_without_a_geo_referenced_network_a_position_is_refused_not_a_crash(
    engine, sessions, grid_net, gtfs
):
    svc = make_service(engine, sessions, grid_net, gtfs_dir=str(gtfs))
    now = float(int(time.time()))
    svc.ctx.transit = TransitDesk(gtfs, now - 1190.0, net=grid_net)
    msg = _message(now)
    add_vehicle_position(msg, "bus7", "L.0", 52.5, 13.4, now)
    r = _post(svc, msg)
    assert r.status_code == 200, r.text
    (refused,) = r.json()["refused"]
    assert refused["reason"] == "no_geo" and "geo-reference" in refused["detail"]


def test_the_schedule_is_placed_in_utc_with_the_agency_time_zone(
    engine, sessions, geo_net, tmp_path
):
    # L.0 is due at s1 at 00:18:20 of today's service day in Berlin (which starts at local
    # midnight, but on the two DST days at noon minus 12 h); the bus is there 90 s later.
    zone = ZoneInfo("Europe/Berlin")
    start = max(ServiceDays(zone=zone).starts_s(datetime.now(zone).timestamp()))
    due = start + 1100.0
    gtfs = tiny_gtfs(tmp_path / "berlin", geo_net, zone="Europe/Berlin")
    svc = make_service(engine, sessions, geo_net, gtfs_dir=str(gtfs))
    body = {"positions": [POSITION | {"time_s": due + 90.0}]}
    # The bus's time may be far from now here: a road position is not checked for age.
    r = svc.client.post("/transit/positions", json=body, headers=svc.as_("dispatcher"))
    assert r.status_code == 200, r.text
    assert r.json()["lateness"][0]["lateness_s"] == pytest.approx(90.0, abs=0.5)


@pytest.mark.parametrize(
    ("zone", "words"),
    [(None, "cannot read .*agency.txt"), ("Mars/Olympus", "'Mars/Olympus' is not an IANA")],
)
def test_a_feed_without_a_usable_agency_zone_is_refused_naming_it(
    engine, sessions, geo_net, tmp_path, zone, words
):
    gtfs = tiny_gtfs(tmp_path / "nozone", geo_net, zone=zone)
    svc = make_service(engine, sessions, geo_net, gtfs_dir=str(gtfs))
    r = svc.client.get("/transit/buses", headers=svc.as_("viewer"))
    assert r.status_code == 503
    assert re.search(words, r.json()["detail"]), r.json()["detail"]


def test_nonsense_in_a_vehicle_position_is_refused_for_that_bus_only(svc, gtfs):
    now = float(int(time.time()))
    _desk(svc, gtfs, now - 1190.0)
    good = lat_lon(svc.ctx.network, "A1B1", 100.0)
    msg = _message(now)
    add_vehicle_position(msg, "ok", "L.0", *good, now)
    add_vehicle_position(msg, "x" * 300, "L.0", *good, now)
    add_vehicle_position(msg, "nan", "L.0", float("nan"), good[1], now)
    add_vehicle_position(msg, "pole", "L.0", 95.0, good[1], now)
    far = add_vehicle_position(msg, "far", "L.0", *good, now)
    far.timestamp = 2**63  # no clock means that
    odd = add_vehicle_position(msg, "odd", "L.0", *good, now, bearing_deg=float("nan"))
    odd.position.speed = -5.0  # read as not given
    r = _post(svc, msg)
    assert r.status_code == 200, r.text
    out = r.json()
    assert sorted(x["id"] for x in out["lateness"]) == ["odd", "ok"]
    reasons = {x["vehicle_id"]: x["reason"] for x in out["refused"]}
    assert reasons == {"x" * 64: "bad_id", "nan": "bad_position", "pole": "bad_position",
                       "far": "future"}  # fmt: skip
