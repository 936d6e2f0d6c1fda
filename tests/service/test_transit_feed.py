"""``/transit``: a transit operator feeds GTFS-realtime or bus positions; each feed is
audited, unknown trips and bodies that are no FeedMessage are refused, a viewer may only read,
and a bus can never ask for preemption (no ``transit`` priority request)."""

from __future__ import annotations

import time

import pytest
from google.transit import gtfs_realtime_pb2

from clearway.service.transit_feed import TransitDesk
from tests.fakes.transit import POSITION, tiny_gtfs

from .conftest import make_service


@pytest.fixture
def gtfs(tmp_path, grid_net):
    return tiny_gtfs(tmp_path, grid_net)


@pytest.fixture
def svc(engine, sessions, grid_net, gtfs):
    return make_service(engine, sessions, grid_net, gtfs_dir=str(gtfs))


def _with_day_start(svc, gtfs, day_start_s: float) -> None:
    svc.ctx.transit = TransitDesk(gtfs, day_start_s)


def _feed_events(svc) -> list[dict]:
    page = svc.ctx.audit.query(kind="transit.feed")
    return [r.payload for r in page.records]


def test_positions_give_each_bus_its_lateness_audited(svc, gtfs):
    now = time.time()
    _with_day_start(svc, gtfs, now - 1100.0 - 90.0)  # it is day+1190 s: s1 was due 90 s ago
    body = {"positions": [POSITION | {"time_s": now}]}
    r = svc.client.post("/transit/positions", json=body, headers=svc.as_("dispatcher"))
    assert r.status_code == 200, r.text
    (late,) = r.json()["lateness"]
    assert late["id"] == "bus7" and late["lateness_s"] == pytest.approx(90.0, abs=1.0)
    assert late["qualifies"] is True
    (event,) = _feed_events(svc)
    assert event["format"] == "positions" and event["accepted"] == 1
    buses = svc.client.get("/transit/buses", headers=svc.as_("viewer")).json()
    assert [(b["vehicle_id"], b["edge_id"], b["qualifies"]) for b in buses] == [
        ("bus7", "B1C1", True)
    ]


def test_gtfs_realtime_trip_update_and_stopped_vehicle(svc, gtfs):
    now = time.time()
    _with_day_start(svc, gtfs, now - 2000.0)
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = int(now)
    tu = msg.entity.add(id="1").trip_update
    tu.trip.trip_id = "L.0"
    tu.stop_time_update.add(stop_sequence=2).arrival.delay = 45
    other = msg.entity.add(id="2").trip_update
    other.trip.trip_id = "NOPE.1"
    other.delay = 10
    vp = msg.entity.add(id="3").vehicle
    vp.trip.trip_id = "L.0"
    vp.current_stop_sequence = 2
    vp.current_status = gtfs_realtime_pb2.VehiclePosition.STOPPED_AT
    vp.timestamp = int(now) - 800  # at s1 at day+1200 s: 100 s late
    r = svc.client.post("/transit/gtfs-rt", content=msg.SerializeToString(),
                        headers={**svc.as_("operator"), "Content-Type": "application/x-protobuf"})  # fmt: skip
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["unknown_trips"] == ["NOPE.1"]
    assert [(x["id"], x["lateness_s"], x["qualifies"]) for x in out["lateness"]] == [
        ("L.0", 45.0, False), ("L.0", pytest.approx(100.0, abs=1.0), True),
    ]  # fmt: skip
    (event,) = _feed_events(svc)
    assert event["format"] == "gtfs-rt" and event["accepted"] == 2


def test_bad_feeds_are_refused_and_audited(svc):
    r = svc.client.post("/transit/gtfs-rt", content=b"\xff\xff not protobuf",
                        headers={**svc.as_("dispatcher"), "Content-Type": "application/x-protobuf"})  # fmt: skip
    assert r.status_code == 400 and "FeedMessage" in r.json()["detail"]
    body = {"positions": [{"vehicle_id": "b", "trip_id": "X.9", "time_s": time.time(),
                           "edge_id": "B1C1", "offset_m": 1.0, "speed_mps": 1.0}]}  # fmt: skip
    r = svc.client.post("/transit/positions", json=body, headers=svc.as_("dispatcher"))
    assert r.status_code == 400 and "X.9" in r.json()["detail"]
    events = _feed_events(svc)
    assert len(events) == 2 and all(e["refused"] for e in events)
    assert svc.client.get("/transit/buses", headers=svc.as_("viewer")).json() == []


def test_a_viewer_may_not_feed_and_without_gtfs_the_routes_are_unavailable(
    engine, sessions, grid_net
):
    bare = make_service(engine, sessions, grid_net)
    r = bare.client.post("/transit/gtfs-rt", content=b"", headers=bare.as_("viewer"))
    assert r.status_code == 403
    r = bare.client.post("/transit/gtfs-rt", content=b"", headers=bare.as_("dispatcher"))
    assert r.status_code == 503 and "CLEARWAY_GTFS_DIR" in r.json()["detail"]


def test_the_desk_loads_from_the_setting_on_first_use(svc):
    assert svc.ctx.transit is None
    r = svc.client.get("/transit/buses", headers=svc.as_("viewer"))
    assert r.status_code == 200 and r.json() == []
    assert svc.ctx.transit is not None and "L.0" in svc.ctx.transit.board.schedule


def test_a_bus_cannot_request_preemption(svc):
    body = {"vehicle_id": "bus7", "role": "transit", "importance": 4, "incident_id": "I-1",
            "origin_edge": "A1B1", "destination_edge": "B1C1"}  # fmt: skip
    r = svc.client.post("/priority-requests", json=body, headers=svc.as_("dispatcher"))
    assert r.status_code == 422 and "role" in r.text
