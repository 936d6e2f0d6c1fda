"""The public alert feed's pure parts: windows per junction and edge ahead of a corridor,
coarsened outward and merged across requests, windows in force kept to their end, GeoJSON
in WGS84 with RFC 3339 times — and nothing that names a request, a vehicle, an incident, an
owner, or the place a vehicle is now."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clearway.control.priority.corridor import signal_of_junction
from clearway.errors import ServiceUnavailableError
from clearway.network import load_network
from clearway.network.geo import xy_to_lonlat
from clearway.network.model import GeoReference
from clearway.service.alert_publisher import AlertPublisher
from clearway.service.clock import TrafficClock
from clearway.service.live_view import LiveView, RequestView
from clearway.service.public_alerts import (
    EDGE_LEAD_S,
    JUNCTION_LEAD_S,
    STEP_S,
    TAIL_MARGIN_S,
    AlertWindow,
    CorridorAhead,
    coarsen,
    corridors_of,
    feature_collection,
    merge,
    message,
    publish,
    raw_windows,
)
from tests.fakes.networks import netgenerate_grid

#: West to east across the middle of the 3x3 grid: signals A1, B1, C1 on the way.
ROUTE = ("A0A1", "A1B1", "B1C1", "C1C2")
#: 2026-12-07T14:00:00Z is traffic time 0 (field speed).
CLOCK = TrafficClock(epoch_utc_s=1_796_652_000.0, speed=1.0)
RFC3339_S = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return load_network(netgenerate_grid(tmp_path_factory.mktemp("pa") / "grid.net.xml", 3))


@pytest.fixture(scope="module")
def geo_net(net):
    """The same grid placed in Berlin (UTM zone 33)."""
    return dataclasses.replace(
        net,
        geo=GeoReference(
            "+proj=utm +zone=33 +ellps=WGS84 +datum=WGS84 +units=m +no_defs",
            -392_000.0,
            -5_815_000.0,
        ),
    )


def _request(rid="pr-00000000000000aa", vehicle="AMB-1", incident="INC-7", **kw) -> RequestView:
    base = dict(
        request_id=rid,
        vehicle_id=vehicle,
        owner="dispatcher",
        role="ambulance",
        incident_id=incident,
        state="active",
        route=ROUTE,
        junctions={"B1": "granted", "C1": "processing"},
        etas_s={"B1": 112.0, "C1": 126.0},
    )
    return RequestView(**(base | kw))


def _windows(net, *corridors):
    return raw_windows(net, corridors, signal_of_junction(net))


def test_junction_and_edge_windows_are_only_ahead(net):
    # Past A1, on A1B1: signals B1 and C1 ahead.
    c = CorridorAhead("emergency", ROUTE, {"B1": 112.0, "C1": 125.0})
    ws = {(w.kind, w.place_id): w for w in _windows(net, c)}
    assert set(ws) == {("junction", "B1"), ("junction", "C1"), ("edge", "B1C1"), ("edge", "C1C2")}
    b1 = ws["junction", "B1"]
    assert (b1.from_edge, b1.to_edge) == ("A1B1", "B1C1")
    assert b1.from_s == 112.0 - JUNCTION_LEAD_S and b1.to_s == 112.0 + TAIL_MARGIN_S
    # The edge between two signals: entered at B1's ETA, left at C1's.
    assert ws["edge", "B1C1"].from_s == 112.0 - EDGE_LEAD_S
    assert ws["edge", "B1C1"].to_s == 125.0 + TAIL_MARGIN_S
    # After the last signal: its free-flow time.
    free_s = net.edge("C1C2").length_m / net.edge("C1C2").speed_mps
    assert ws["edge", "C1C2"].to_s == pytest.approx(125.0 + free_s + TAIL_MARGIN_S)
    # Never the edges the vehicle may be on now, nor junctions it has passed.
    assert ("edge", "A1B1") not in ws and ("edge", "A0A1") not in ws
    assert ("junction", "A1") not in ws


def test_a_convoy_window_covers_its_tail(net):
    c = CorridorAhead("convoy", ROUTE, {"B1": 112.0}, pass_time_s=30.0)
    (b1,) = [w for w in _windows(net, c) if w.kind == "junction"]
    assert b1.to_s == 112.0 + 30.0 + TAIL_MARGIN_S


@settings(max_examples=200, deadline=None)
@given(lo=st.floats(-1e6, 1e6), length=st.floats(0, 1e4))
@example(lo=-5e-324, length=0.0)  # -5e-324 / 5 rounds to -0.0: floored to 0, past the start
def test_coarsening_only_widens_to_the_step_grid(lo, length):
    w = AlertWindow("edge", "E", "E", "E", "emergency", lo, lo + length)
    c = coarsen(w)
    assert c.from_s <= w.from_s and c.to_s >= w.to_s
    assert c.from_s % STEP_S == 0 and c.to_s % STEP_S == 0
    assert c.to_s - c.from_s >= STEP_S
    # No wider than needed: less than a step on each side (a minimal window: one step).
    assert c.from_s >= w.from_s - STEP_S and c.to_s <= max(w.to_s + STEP_S, c.from_s + STEP_S)


def test_windows_of_one_place_merge_across_requests(net):
    a = CorridorAhead("emergency", ROUTE, {"B1": 100.0})
    b = CorridorAhead("convoy", ROUTE, {"B1": 120.0})  # overlaps a's B1 window
    far = CorridorAhead("emergency", ROUTE, {"B1": 400.0})
    out = merge(coarsen(w) for w in _windows(net, a, b, far))
    b1 = [w for w in out if w.key == ("junction", "B1", "A1B1", "B1C1")]
    assert [(w.from_s, w.to_s) for w in b1] == [(80.0, 125.0), (380.0, 405.0)]
    assert [w.reason for w in b1] == ["convoy", "emergency"]  # the stronger class shows
    # Other directions through B1 are other places.
    cross = CorridorAhead("emergency", ("B0B1", "B1B2"), {"B1": 100.0})
    out = merge(coarsen(w) for w in _windows(net, a, cross))
    assert len([w for w in out if w.kind == "junction" and w.place_id == "B1"]) == 2


def test_a_window_in_force_stays_until_its_end_a_future_one_follows_the_plan(net):
    c = CorridorAhead("emergency", ROUTE, {"B1": 112.0, "C1": 125.0})
    first = publish((), _windows(net, c), now_s=100.0)
    in_force = {w.place_id for w in first if w.from_s <= 100.0}
    # B1 from 92 -> 90, B1C1 from 102 -> 100: begun; C1 from 105, C1C2 later: not yet.
    assert in_force == {"B1", "B1C1"}
    assert {w.place_id for w in first} == in_force | {"C1", "C1C2"}
    # The vehicle crossed B1 and its request was cancelled: nothing planned any more. The
    # windows in force stay; the future ones go at once.
    later = publish(first, (), now_s=104.0)
    assert {w.place_id for w in later} == in_force
    assert all(w in first for w in later)
    # Each goes at its own (coarsened) end, not earlier.
    b1_end = next(w.to_s for w in first if w.place_id == "B1")
    assert any(w.place_id == "B1" for w in publish(later, (), now_s=b1_end - 0.1))
    assert not any(w.place_id == "B1" for w in publish(later, (), now_s=b1_end))


def test_windows_beyond_the_horizon_are_not_published(net):
    c = CorridorAhead("convoy", ROUTE, {"B1": 2000.0})
    assert publish((), _windows(net, c), now_s=0.0) == []
    assert publish((), _windows(net, c), now_s=1500.0) != []


def test_the_collection_names_no_request_vehicle_incident_or_owner(geo_net):
    view = LiveView(
        version=3,
        time_s=100.0,
        running=True,
        error=None,
        requests={
            "pr-00000000000000aa": _request(),
            # A finished one and a rejected junction are not published.
            "pr-00000000000000bb": _request(
                "pr-00000000000000bb", "FIRE-2", "INC-8", state="completed"
            ),
            "pr-00000000000000cc": _request(
                "pr-00000000000000cc",
                "POL-3",
                "INC-9",
                junctions={"B1": "rejected"},
                etas_s={"B1": 130.0},
            ),
        },
    )
    corridors = corridors_of(view)
    assert len(corridors) == 1
    doc = feature_collection(geo_net, publish((), _windows(geo_net, *corridors), 100.0), CLOCK)
    text = json.dumps(doc)
    for secret in ("pr-0000", "AMB-1", "FIRE-2", "POL-3", "INC-", "dispatcher", "ambulance"):
        assert secret not in text, secret
    assert doc["type"] == "FeatureCollection" and doc["features"]
    for f in doc["features"]:
        assert set(f["properties"]) >= {"kind", "from", "to", "reason", "message", "bearing_deg"}
        assert RFC3339_S.match(f["properties"]["from"]) and RFC3339_S.match(f["properties"]["to"])
        assert f["properties"]["from"] < f["properties"]["to"]
        assert f["properties"]["reason"] == "emergency"


def test_geometry_is_wgs84_lon_lat_and_null_without_geo_reference(net, geo_net):
    c = CorridorAhead("emergency", ROUTE, {"B1": 112.0})
    ws = publish((), _windows(geo_net, c), 100.0)
    doc = feature_collection(geo_net, ws, CLOCK)
    b1 = next(f for f in doc["features"] if f["properties"].get("junction_id") == "B1")
    j = geo_net.junction("B1")
    assert b1["geometry"]["type"] == "Point"
    assert b1["geometry"]["coordinates"] == pytest.approx(
        list(xy_to_lonlat(geo_net.geo, j.x_m, j.y_m)), abs=1e-6
    )
    lon, lat = b1["geometry"]["coordinates"]
    assert 13.0 < lon < 14.0 and 52.0 < lat < 53.0  # Berlin
    edge = next(f for f in doc["features"] if f["properties"].get("edge_id") == "B1C1")
    assert edge["geometry"]["type"] == "LineString" and len(edge["geometry"]["coordinates"]) >= 2
    # B1 -> C1 runs east.
    assert edge["properties"]["bearing_deg"] == 90.0 and b1["properties"]["bearing_deg"] == 90.0
    assert (edge["properties"]["from_junction"], edge["properties"]["to_junction"]) == ("B1", "C1")
    plain = feature_collection(net, ws, CLOCK)
    assert plain["geo_referenced"] is False
    assert all(f["geometry"] is None for f in plain["features"])


def test_messages_are_plain_and_in_utc_minutes():
    t0 = CLOCK.to_utc_s(2 * 60 + 10)  # 14:02:10
    t1 = CLOCK.to_utc_s(8 * 60 + 40)  # 14:08:40
    assert message("edge", "convoy", t0, t1) == "closed for convoy 14:02–14:09 UTC"
    assert message("edge", "emergency", t0, t1) == "rescue lane ahead 14:02–14:09 UTC"
    assert message("junction", "emergency", t0, t1).startswith("emergency vehicle crossing")


def _view(version, **req):
    return LiveView(
        version=version,
        time_s=100.0,
        running=True,
        error=None,
        requests={"pr-00000000000000aa": _request(**req)},
    )


def test_the_publisher_keeps_its_etag_while_the_windows_stay(net):
    pub = AlertPublisher()
    a = pub.current(_view(1), net, CLOCK)
    assert pub.current(_view(1), net, CLOCK) is a
    # A new tick whose ETAs move within the coarsening step: same body, same ETag.
    b = pub.current(_view(2, etas_s={"B1": 112.5, "C1": 126.5}), net, CLOCK)
    assert (b.etag, b.body) == (a.etag, a.body) and b.version == 2
    # A real change: a new ETag.
    c = pub.current(_view(3, etas_s={"B1": 112.0, "C1": 160.0}), net, CLOCK)
    assert c.etag != a.etag and c.body != a.body
    assert json.loads(c.body)["type"] == "FeatureCollection"
    with pytest.raises(ServiceUnavailableError, match="UTC"):
        pub.current(_view(4), net, None)


def test_the_publisher_caps_open_streams_per_client():
    pub = AlertPublisher()
    assert pub.open_stream("addr:a", cap=2) and pub.open_stream("addr:a", cap=2)
    assert not pub.open_stream("addr:a", cap=2)  # a third one is refused...
    assert pub.open_stream("addr:b", cap=2)  # ... for that address only
    assert pub.streams_of("addr:a") == 2
    pub.close_stream("addr:a")
    assert pub.streams_of("addr:a") == 1 and pub.open_stream("addr:a", cap=2)
    for _ in range(3):
        pub.close_stream("addr:a")
    assert pub.streams_of("addr:a") == 0  # never below zero
