"""A GPS fix near the planned route stays on it: the nearest route point (against a dense
sampling of the lanes), and the request book keeping a fix the matcher put on a side street
on its route unless it is too far from the route for its accuracy."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.control.priority import gps_fixes
from clearway.control.priority.plausibility import place_xy
from clearway.control.priority.registry import RequestBook
from clearway.control.priority.request import PositionUpdate, PriorityRequestSpec, XYPlace
from clearway.control.priority.route_fit import ROUTE_KEEP_SIGMAS, nearest_on_route
from clearway.network import load_network
from clearway.network.geometry import point_along
from clearway.network.matching import MatchedPlace
from tests.fakes.networks import netgenerate_grid

ROUTE = ("A1B1", "B1C1", "C1D1")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return load_network(netgenerate_grid(tmp_path_factory.mktemp("fit") / "grid.net.xml", 4))


def sampled_lines(net, route, start=0):
    """Oracle's lines: (route index, polyline, edge offset per lane metre) of every lane of
    ``route[start:]``, and of every passage into ``route[k + 1]`` (offset 0 all along)."""
    lines = []
    for i in range(start, len(route)):
        edge = net.edges[route[i]]
        for lane in map(net.lane, edge.lane_ids):
            lines.append((i, lane.shape, lane.length_m, edge.length_m / lane.length_m))
    for lk in net.links:
        for k in range(start, len(route) - 1):
            if (lk.from_edge, lk.to_edge) == (route[k], route[k + 1]) and lk.via_lane:
                lane = net.lane(lk.via_lane)
                lines.append((k + 1, lane.shape, lane.length_m, 0.0))
    return lines


def sampled_nearest(net, route, x, y, start=0, step_m=0.5):
    """Oracle: every ``step_m`` along every line, the closest sample (distance, index)."""
    best = (math.inf, None)
    for i, shape, length_m, _ in sampled_lines(net, route, start):
        for k in range(int(length_m / step_m) + 2):
            d = math.dist(point_along(shape, min(k * step_m, length_m)), (x, y))
            if d < best[0]:
                best = (d, i)
    return best


@settings(max_examples=30, deadline=None)
@given(st.floats(-50.0, 650.0), st.floats(-60.0, 260.0))
def test_the_nearest_route_point_is_as_near_as_any_sample_of_the_lanes(net, x, y):
    place = nearest_on_route(net, ROUTE, x, y)
    dist, _ = sampled_nearest(net, ROUTE, x, y)
    # Never farther than the best sample, and no closer than the sampling allows.
    assert dist - 0.26 <= place.distance_m <= dist + 1e-9
    edge = net.edges[place.edge_id]
    assert place.edge_id == ROUTE[place.index] and 0.0 <= place.offset_m <= edge.length_m
    # The place it names is at the distance it says: on a lane of its edge at its offset, or
    # (at offset 0) somewhere on a passage into it.
    gaps = [
        math.dist(point_along(lane.shape, place.offset_m * lane.length_m / edge.length_m), (x, y))
        for lane in map(net.lane, edge.lane_ids)
    ]
    if place.offset_m == 0.0:
        gaps += [
            min(math.dist(point_along(shape, a / 10), (x, y)) for a in range(int(n * 10) + 1))
            for i, shape, n, per_m in sampled_lines(net, ROUTE)
            if i == place.index and per_m == 0.0
        ]
    assert min(gaps) == pytest.approx(place.distance_m, abs=0.06)


def test_a_fix_inside_a_junction_is_at_the_start_of_the_edge_after_it(net):
    (via,) = [
        lk.via_lane for lk in net.links
        if (lk.from_edge, lk.to_edge) == ("A1B1", "B1C1") and lk.from_lane == "A1B1_0"
    ]  # fmt: skip
    lane = net.lane(via)
    x, y = point_along(lane.shape, lane.length_m / 2)
    place = nearest_on_route(net, ROUTE, x, y)
    assert (place.edge_id, place.offset_m) == ("B1C1", 0.0)
    assert place.distance_m == pytest.approx(0.0, abs=1e-6)


def test_a_fix_on_a_lane_is_at_distance_zero_at_its_offset(net):
    x, y = place_xy(net, "B1C1", 80.0)
    place = nearest_on_route(net, ROUTE, x, y)
    assert (place.index, place.edge_id) == (1, "B1C1")
    assert place.distance_m == pytest.approx(0.0, abs=1e-6)
    assert place.offset_m == pytest.approx(80.0, abs=0.5)


def test_the_search_starts_at_the_given_edge(net):
    x, y = place_xy(net, "A1B1", 50.0)
    assert nearest_on_route(net, ROUTE, x, y).edge_id == "A1B1"
    later = nearest_on_route(net, ROUTE, x, y, start=1)
    dist, index = sampled_nearest(net, ROUTE, x, y, start=1)
    assert later.index == index == 1 and later.distance_m == pytest.approx(dist, abs=0.3)
    assert nearest_on_route(net, ROUTE, x, y, start=3) is None


# -- the request book ---------------------------------------------------------------------
def side_street_matcher(monkeypatch, edge_id="B1B2", offset_m=5.0):
    """The matcher, whatever the fix, answers a side street (its own error, stood in for)."""

    def fake(net, graph, state, x_m, y_m, *args, **kw):
        return state, MatchedPlace(edge_id, offset_m, 1.0, 0.0)

    monkeypatch.setattr(gps_fixes, "match_step", fake)


def spec():
    return PriorityRequestSpec.model_validate(
        dict(requester_id="AMB-1", role="ambulance", importance=12, incident_id="I", route=ROUTE)
    )


def gps(net, t, edge, offset_m, off_m, accuracy_m):
    """A fix ``off_m`` to the side of ``edge`` at ``offset_m`` (the grid's x runs along it)."""
    x, y = place_xy(net, edge, offset_m)
    return PositionUpdate(
        time_s=t, place=XYPlace(x_m=x, y_m=y + off_m), speed_mps=13.0, accuracy_m=accuracy_m
    )


@pytest.mark.parametrize("off_m", [0.0, 20.0, 44.0])
def test_a_fix_matched_off_the_route_but_within_its_accuracy_stays_on_the_route(
    net, monkeypatch, off_m
):
    side_street_matcher(monkeypatch)
    book = RequestBook(net)
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": gps(net, 1.0, "B1C1", 60.0, off_m, 15.0)}, 1.0)
    now = book.request(req.request_id)
    assert now.route == ROUTE and [h[2] for h in now.history].count("route planned") == 1
    (tracked,) = book.live()
    assert tracked.edge_id == "B1C1" and tracked.offset_m == pytest.approx(60.0, abs=1.0)


def test_a_fix_farther_from_the_route_than_its_accuracy_allows_re_plans(net, monkeypatch):
    side_street_matcher(monkeypatch)
    book = RequestBook(net)
    req = book.submit(spec(), 0.0)
    off_m = ROUTE_KEEP_SIGMAS * 5.0 + 10.0  # 25 m off with 5 m accuracy: not the route
    book.observe({"AMB-1": gps(net, 1.0, "B1C1", 60.0, off_m, 5.0)}, 1.0)
    now = book.request(req.request_id)
    assert now.route[0] == "B1B2" and now.route[-1] == ROUTE[-1]
    (tracked,) = book.live()
    assert tracked.edge_id == "B1B2"


def test_the_vehicle_is_not_put_back_behind_the_edge_it_was_last_on(net, monkeypatch):
    """Near junction B1 a fix is as close to the end of A1B1 as to the start of B1C1; once
    the vehicle was seen on B1C1 it stays there."""
    book = RequestBook(net)
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": gps(net, 1.0, "B1C1", 30.0, 2.0, 15.0)}, 1.0)
    assert next(book.live()).edge_id == "B1C1"
    side_street_matcher(monkeypatch)
    x, y = place_xy(net, "A1B1", net.edges["A1B1"].length_m - 1.0)
    fix = PositionUpdate(time_s=2.0, place=XYPlace(x_m=x, y_m=y), speed_mps=3.0, accuracy_m=15.0)
    book.observe({"AMB-1": fix}, 2.0)
    (tracked,) = book.live()
    assert book.request(req.request_id).route == ROUTE and tracked.edge_id == "B1C1"


def test_one_fix_far_off_the_route_does_not_move_the_vehicle_a_second_one_re_plans(
    net, monkeypatch
):
    book = RequestBook(net)
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": gps(net, 1.0, "B1C1", 30.0, 2.0, 5.0)}, 1.0)
    side_street_matcher(monkeypatch)
    book.observe({"AMB-1": gps(net, 2.0, "B1C1", 45.0, 60.0, 5.0)}, 2.0)
    now = book.request(req.request_id)
    assert now.route == ROUTE and now.last_heard_s == 2.0  # heard: the lease is renewed
    (tracked,) = book.live()
    # Still where the fix at 1 s put it, at 1 s: the plan projects it on by its age.
    assert tracked.edge_id == "B1C1" and tracked.offset_m == pytest.approx(30.0, abs=1.0)
    assert tracked.time_s == 1.0
    book.observe({"AMB-1": gps(net, 3.0, "B1C1", 60.0, 60.0, 5.0)}, 3.0)
    now = book.request(req.request_id)
    assert now.route[0] == "B1B2" and next(book.live()).edge_id == "B1B2"


def test_a_stray_fix_between_fixes_on_the_route_re_plans_nothing(net, monkeypatch):
    book = RequestBook(net)
    req = book.submit(spec(), 0.0)
    for t, (off, edge) in enumerate([(2.0, "A1B1"), (60.0, "B1B2"), (2.0, "A1B1"), (60.0, "B1B2")]):
        if edge == "B1B2":
            side_street_matcher(monkeypatch)
        else:
            monkeypatch.undo()
        book.observe({"AMB-1": gps(net, 1.0 + t, "A1B1", 150.0 + 5 * t, off, 5.0)}, 1.0 + t)
    now = book.request(req.request_id)
    assert now.route == ROUTE and [h[2] for h in now.history].count("route planned") == 1
