"""Pure parts behind the live service: pushed and merged priority feeds, points along the
network's geometry, and the live feed's difference between two views."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearway.control.priority.feeds import MergedFeed, PushedPositions
from clearway.control.priority.request import EdgePlace, PositionUpdate
from clearway.network.geometry import point_along
from clearway.service.live_view import (
    LiveView,
    RequestView,
    VehicleView,
    feed_snapshot,
    feed_update,
)


def _at(t: float, edge: str = "e", offset: float = 0.0) -> PositionUpdate:
    return PositionUpdate(time_s=t, place=EdgePlace(edge_id=edge, offset_m=offset), speed_mps=5)


def test_pushed_positions_keep_only_newer_updates():
    feed = PushedPositions()
    assert feed.push("AMB", _at(10.0, offset=1))
    assert not feed.push("AMB", _at(10.0, offset=2))  # same time: a replay
    assert not feed.push("AMB", _at(9.0, offset=3))  # older
    assert feed.priority_positions()["AMB"].place.offset_m == 1
    assert feed.push("AMB", _at(11.0, offset=4))
    assert feed.priority_positions()["AMB"].place.offset_m == 4
    feed.forget("AMB")
    feed.forget("never-heard")
    assert dict(feed.priority_positions()) == {}


def test_merged_feed_takes_the_newest_per_vehicle_and_the_first_on_ties():
    a, b = PushedPositions(), PushedPositions()
    a.push("X", _at(5.0, "a"))
    b.push("X", _at(6.0, "b"))
    a.push("Y", _at(3.0, "a"))
    b.push("Y", _at(3.0, "b"))
    b.push("Z", _at(1.0, "b"))
    merged = MergedFeed(a, b).priority_positions()
    assert {k: v.place.edge_id for k, v in merged.items()} == {"X": "b", "Y": "a", "Z": "b"}
    with pytest.raises(ValueError):
        MergedFeed()


def test_point_along_a_polyline():
    shape = ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0))
    assert point_along(shape, 0) == (0.0, 0.0)
    assert point_along(shape, 4) == pytest.approx((4.0, 0.0))
    assert point_along(shape, 12) == pytest.approx((10.0, 2.0))
    assert point_along(shape, 99) == (10.0, 5.0)  # clamped
    assert point_along(shape, -3) == (0.0, 0.0)
    assert point_along(((1.0, 1.0), (1.0, 1.0), (4.0, 5.0)), 5) == pytest.approx((4.0, 5.0))


@given(
    st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=2, max_size=6),
    st.floats(0, 5e3),
)
def test_point_along_lies_on_the_polyline(shape, offset):
    x, y = point_along(shape, offset)
    # Distance from the point to the nearest segment is ~0.
    best = math.inf
    for (x0, y0), (x1, y1) in zip(shape, shape[1:], strict=False):
        dx, dy = x1 - x0, y1 - y0
        len2 = dx * dx + dy * dy
        f = 0.0 if len2 == 0 else max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / len2))
        best = min(best, math.hypot(x - (x0 + f * dx), y - (y0 + f * dy)))
    assert best < 1e-6 * (1 + abs(x) + abs(y))


def _request(state: str = "planned", **junctions: str) -> RequestView:
    return RequestView(
        "pr-1", "AMB", "disp", "ambulance", "INC", state, ("a", "b"), junctions, {"J1": 12.5}
    )


def _view(version: int, **kw) -> LiveView:
    base = {"time_s": float(version), "running": True, "error": None}
    return LiveView(version=version, **(base | kw))


def test_feed_update_sends_only_what_changed():
    car = VehicleView("AMB", "a", 3.0, 1.0, 2.0, 10.0, 1.0)
    before = _view(
        1, signals={"J1": "rrGG", "J2": "GGrr"}, requests={"pr-1": _request(J1="processing")}
    )
    now = _view(
        2,
        signals={"J1": "rrGG", "J2": "yyrr"},
        requests={"pr-1": _request(J1="granted")},
        held=frozenset({"J1"}),
        vehicles={"AMB": car},
    )
    msg = feed_update(before, now)
    assert msg is not None
    assert msg["type"] == "update" and msg["version"] == 2
    assert msg["signals"] == {"J2": "yyrr"}
    assert msg["held"] == ["J1"]
    assert msg["vehicles"]["AMB"]["x_m"] == 1.0
    (req,) = msg["requests"]
    assert req["junctions"] == [{"signal_id": "J1", "status": "granted", "eta_s": 12.5}]
    assert "recovering" not in msg and "gone_vehicles" not in msg
    assert feed_update(now, now) is None  # same version: nothing to send
    later = _view(3, signals=now.signals, requests=now.requests, held=now.held)
    msg = feed_update(now, later)
    assert msg["gone_vehicles"] == ["AMB"] and "signals" not in msg and "requests" not in msg


def test_feed_snapshot_carries_everything():
    view = _view(4, signals={"J1": "Gr"}, strategies={"J1": "fixed-time"},
                 requests={"pr-1": _request()})  # fmt: skip
    snap = feed_snapshot(view)
    assert snap["type"] == "snapshot" and snap["signals"] == {"J1": "Gr"}
    assert snap["strategies"] == {"J1": "fixed-time"}
    assert [r["request_id"] for r in snap["requests"]] == ["pr-1"]
    assert snap["health"]["running"] is True


def test_feed_update_sends_changed_lane_fill_only():
    before = _view(1, lanes={"a_0": 0.1, "b_0": 0.5})
    now = _view(2, lanes={"a_0": 0.1, "b_0": 0.55})
    assert feed_update(before, now)["lanes"] == {"b_0": 0.55}
    assert "lanes" not in feed_update(now, _view(3, lanes=now.lanes))


def test_lane_fill_is_a_share_in_steps():
    import numpy as np

    from clearway.service.live_state import lane_fill
    from clearway.state.traffic import TrafficState

    z = np.zeros(4)
    occ = np.array([0.0, 12.0, 100.0, np.nan])
    traffic = TrafficState(0.0, ("a", "b", "c", "d"), z, z, z, occ, z)
    assert lane_fill(traffic) == {"a": 0.0, "b": 0.1, "c": 1.0, "d": 0.0}
