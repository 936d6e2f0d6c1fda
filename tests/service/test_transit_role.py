"""The ``transit`` role: a transit operator's system feeds its buses (``/transit/positions``,
``/transit/gtfs-rt``) and may do nothing else; dispatchers and operators still feed buses."""

from __future__ import annotations

import time

import pytest
from google.transit import gtfs_realtime_pb2

from clearway.service.auth import ROLE_PERMISSIONS, Permission, roles_with
from clearway.service.transit_feed import TransitDesk
from tests.fakes.transit import POSITION, tiny_gtfs

from .conftest import make_service

REQUEST = {"vehicle_id": "AMB-1", "role": "ambulance", "importance": 1, "incident_id": "I-1",
           "origin_edge": "A1B1", "destination_edge": "B1C1"}  # fmt: skip


@pytest.fixture
def svc(engine, sessions, grid_net, tmp_path):
    gtfs = tiny_gtfs(tmp_path, grid_net)
    out = make_service(engine, sessions, grid_net, gtfs_dir=str(gtfs))
    out.ctx.transit = TransitDesk(gtfs, time.time() - 1190.0)
    return out


def _gtfs_rt() -> bytes:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = int(time.time())
    msg.entity.add(id="1").trip_update.trip.trip_id = "L.0"
    msg.entity[0].trip_update.delay = 75
    return msg.SerializeToString()


def test_the_transit_role_only_feeds_buses():
    assert ROLE_PERMISSIONS["transit"] == {Permission.FEED_TRANSIT}
    assert roles_with(Permission.FEED_TRANSIT) == ("dispatcher", "operator", "transit")


@pytest.mark.parametrize("how", ["api_key", "token"])
def test_a_transit_credential_feeds_positions_and_gtfs_rt(svc, how):
    headers = svc.as_("transit") if how == "api_key" else svc.bearer("transit")
    body = {"positions": [POSITION | {"time_s": time.time()}]}
    r = svc.client.post("/transit/positions", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["lateness"][0]["lateness_s"] == pytest.approx(90.0, abs=2.0)
    r = svc.client.post("/transit/gtfs-rt", content=_gtfs_rt(),
                        headers={**headers, "Content-Type": "application/x-protobuf"})  # fmt: skip
    assert r.status_code == 200 and r.json()["lateness"][0]["lateness_s"] == 75.0, r.text
    feeds = svc.ctx.audit.query(kind="transit.feed").records
    assert [f.principal for f in feeds] == ["transit", "transit"]


def test_a_transit_credential_gets_403_on_requests_reads_and_admin_routes(svc):
    h = svc.as_("transit")
    refused = [
        svc.client.post("/priority-requests", json=REQUEST, headers=h),
        svc.client.get("/priority-requests", headers=h),
        svc.client.post("/convoys/plans", json={}, headers=h),
        svc.client.get("/users", headers=h),
        svc.client.post("/users", json={"name": "x", "role": "admin"}, headers=h),
        svc.client.post("/users/transit/keys", headers=h),
        svc.client.get("/audit", headers=h),
        svc.client.get("/transit/buses", headers=h),  # reading is not feeding
        svc.client.get("/junctions", headers=h),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
    assert "needs one of the roles dispatcher, operator" in refused[0].text


def test_dispatchers_and_operators_still_feed_buses_and_a_viewer_does_not(svc):
    body = {"positions": [POSITION | {"time_s": time.time()}]}
    for role in ("dispatcher", "operator"):
        r = svc.client.post("/transit/positions", json=body, headers=svc.as_(role))
        assert r.status_code == 200, (role, r.text)
    for role in ("viewer", "admin"):
        r = svc.client.post("/transit/positions", json=body, headers=svc.as_(role))
        assert r.status_code == 403, (role, r.text)
