"""Routing: fastest routes over the edge graph, checked against an independent Dijkstra.

The reference search below walks the network's Links directly with :mod:`heapq` (no scipy, no
graph arrays), so a bug in the graph construction or in the A* reduction shows as a mismatch.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearway.errors import RouteError, UnknownEdgeError
from clearway.network import Edge, Junction, Lane, Link, Network, load_network
from clearway.network.geo import xy_to_lonlat
from clearway.network.routing import (
    Route,
    build_routing_graph,
    edge_times_s,
    fastest_route,
    remaining_route,
    replan_needed,
    route_of,
)
from clearway.network.snap import snap_lonlat, snap_to_edge
from clearway.state.traffic import TrafficState
from tests.fakes.networks import NETGENERATE, netgenerate_grid

sumo = pytest.importorskip("sumo")
BERLIN = Path(sumo.SUMO_HOME) / "tools" / "game" / "DRT" / "osm.net.xml"


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Network:
    if not NETGENERATE.exists():
        pytest.skip("netgenerate is not installed next to the Python interpreter")
    return load_network(netgenerate_grid(tmp_path_factory.mktemp("routing") / "grid5.net.xml", 5))


@pytest.fixture(scope="module")
def berlin() -> Network:
    if not BERLIN.exists():
        pytest.skip("eclipse-sumo's tools/game networks are not installed")
    return load_network(BERLIN)


@pytest.fixture(scope="module")
def grid_graph(grid):
    return build_routing_graph(grid, "emergency")


@pytest.fixture(scope="module")
def berlin_graph(berlin):
    return build_routing_graph(berlin, "emergency")


# -- an independent reference ----------------------------------------------------------------
def reference_time(net: Network, origin: str, destination: str, vclass: str, times=None):
    """Plain heapq Dijkstra over the Links; time from the start of origin to end of destination."""

    def t(edge_id: str) -> float:
        if times is not None:
            return times[edge_id]
        e = net.edges[edge_id]
        return e.length_m / e.speed_mps

    out: dict[str, list[tuple[str, float]]] = {}
    for lk in net.links:
        fl, tl = net.lanes[lk.from_lane], net.lanes[lk.to_lane]
        if lk.is_crossing or not net.edges[lk.from_edge].is_normal:
            continue
        if not net.edges[lk.to_edge].is_normal:
            continue
        if vclass in fl.allowed and vclass in tl.allowed:
            speed = lk.approach_speed_mps if lk.approach_speed_mps > 0 else fl.speed_mps
            out.setdefault(lk.from_edge, []).append((lk.to_edge, lk.length_m / speed))
    best = {origin: t(origin)}
    heap = [(t(origin), origin)]
    while heap:
        c, e = heapq.heappop(heap)
        if e == destination:
            return c
        if c > best.get(e, math.inf):
            continue
        for nxt, passage in out.get(e, ()):
            nc = c + passage + t(nxt)
            if nc < best.get(nxt, math.inf):
                best[nxt] = nc
                heapq.heappush(heap, (nc, nxt))
    return math.inf


def assert_drivable(net: Network, route: Route, vclass: str) -> None:
    for a, b in zip(route.edges, route.edges[1:], strict=False):
        assert any(
            lk.from_edge == a
            and lk.to_edge == b
            and vclass in net.lanes[lk.from_lane].allowed
            and vclass in net.lanes[lk.to_lane].allowed
            for lk in net.links
        ), f"no {vclass} link {a} -> {b}"
    assert route.junctions == tuple(net.edges[e].to_junction for e in route.edges[:-1])
    assert len(route.end_times_s) == len(route.edges)
    assert route.end_times_s[-1] == pytest.approx(route.travel_time_s)


def usable_edges(net: Network, vclass: str) -> list[str]:
    return sorted(
        e.id
        for e in net.edges.values()
        if e.is_normal and any(vclass in net.lanes[lid].allowed for lid in e.lane_ids)
    )


# -- optimality ------------------------------------------------------------------------------
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_grid_routes_are_optimal_and_drivable(grid, grid_graph, data):
    edges = usable_edges(grid, "emergency")
    a = data.draw(st.sampled_from(edges))
    b = data.draw(st.sampled_from(edges))
    expected = reference_time(grid, a, b, "emergency")
    route = fastest_route(grid_graph, a, b)
    assert route.edges[0] == a and route.edges[-1] == b
    assert route.travel_time_s == pytest.approx(expected, rel=1e-9)
    assert_drivable(grid, route, "emergency")


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_berlin_routes_are_optimal_or_clearly_unreachable(berlin, berlin_graph, data):
    edges = usable_edges(berlin, "emergency")
    a = data.draw(st.sampled_from(edges))
    b = data.draw(st.sampled_from(edges))
    expected = reference_time(berlin, a, b, "emergency")
    if math.isinf(expected):
        with pytest.raises(RouteError, match="not reachable"):
            fastest_route(berlin_graph, a, b)
        return
    route = fastest_route(berlin_graph, a, b)
    assert route.travel_time_s == pytest.approx(expected, rel=1e-9)
    assert_drivable(berlin, route, "emergency")


def test_offsets_shorten_the_route(grid_graph):
    full = fastest_route(grid_graph, "A2B2", "D2E2")
    length = grid_graph.length_m[grid_graph.index["A2B2"]]
    half = fastest_route(grid_graph, "A2B2", "D2E2", origin_offset_m=length / 2)
    assert half.edges == full.edges
    t_a = grid_graph.free_flow_s[grid_graph.index["A2B2"]]
    assert half.travel_time_s == pytest.approx(full.travel_time_s - t_a / 2)
    assert half.length_m == pytest.approx(full.length_m - length / 2)
    end = fastest_route(grid_graph, "A2B2", "D2E2", destination_offset_m=0.0)
    t_d = grid_graph.free_flow_s[grid_graph.index["D2E2"]]
    assert end.travel_time_s == pytest.approx(full.travel_time_s - t_d)
    same = fastest_route(
        grid_graph, "A2B2", "A2B2", origin_offset_m=10.0, destination_offset_m=60.0
    )
    assert same.edges == ("A2B2",) and same.length_m == pytest.approx(50.0)
    with pytest.raises(RouteError, match="outside edge"):
        fastest_route(grid_graph, "A2B2", "D2E2", origin_offset_m=length + 5)


def test_destination_behind_the_start_loops_around(grid, grid_graph):
    loop = fastest_route(
        grid_graph, "B2C2", "B2C2", origin_offset_m=100.0, destination_offset_m=10.0
    )
    assert loop.edges[0] == "B2C2" and loop.edges[-1] == "B2C2" and len(loop.edges) > 2
    assert_drivable(grid, loop, "emergency")


# -- live travel times -----------------------------------------------------------------------
def _state(lanes: dict[str, tuple[float, float]]) -> TrafficState:
    ids = tuple(lanes)
    speed = np.array([v[0] for v in lanes.values()])
    queue = np.array([v[1] for v in lanes.values()])
    zeros = np.zeros(len(ids))
    return TrafficState(0.0, ids, zeros + 3, zeros, queue, zeros, speed)


def test_edge_times_from_detectors(grid, grid_graph):
    ff = edge_times_s(grid_graph, grid, None)
    assert np.allclose(ff, grid_graph.free_flow_s)
    i = grid_graph.index["B2C2"]
    lane_len = grid.lanes["B2C2_0"].length_m
    st_ = _state({"B2C2_0": (5.0, 75.0), "B2C2_1": (-1.0, 0.0), "nowhere_0": (1.0, 900.0)})
    times = edge_times_s(grid_graph, grid, st_)
    lane0 = lane_len / 5.0 + 75.0 / 7.5 * 2.0  # observed speed + 10 queued vehicles at 2 s
    assert times[i] == pytest.approx((lane0 + ff[i]) / 2)
    mask = np.ones(grid_graph.n, dtype=bool)
    mask[i] = False
    assert np.array_equal(times[mask], ff[mask])
    stopped = edge_times_s(grid_graph, grid, _state({"B2C2_0": (0.0, 0.0)}))
    assert stopped[i] == pytest.approx(lane_len / 2.0)  # floored at 2 m/s


def test_congestion_moves_the_route(grid, grid_graph):
    free = fastest_route(grid_graph, "A2B2", "D2E2")
    assert free.edges == ("A2B2", "B2C2", "C2D2", "D2E2")
    state = _state({"C2D2_0": (1.0, 180.0), "C2D2_1": (1.0, 180.0)})
    times = edge_times_s(grid_graph, grid, state)
    jammed = fastest_route(grid_graph, "A2B2", "D2E2", edge_times_s=times)
    assert "C2D2" not in jammed.edges
    assert_drivable(grid, jammed, "emergency")
    by_id = dict(zip(grid_graph.edge_ids, times, strict=True))
    expected = reference_time(grid, "A2B2", "D2E2", "emergency", by_id)
    assert jammed.travel_time_s == pytest.approx(expected)
    assert jammed.travel_time_s < route_of(grid_graph, free.edges, edge_times_s=times).travel_time_s


# -- restrictions ----------------------------------------------------------------------------
def test_turn_restrictions_are_the_connections(grid):
    # Forbid going straight through B2 (A2B2 -> B2C2): the route must turn around it.
    links = tuple(lk for lk in grid.links if not (lk.from_edge == "A2B2" and lk.to_edge == "B2C2"))
    restricted = dataclasses.replace(grid, links=links)
    graph = build_routing_graph(restricted)
    route = fastest_route(graph, "A2B2", "C2D2")
    assert ("A2B2", "B2C2") not in set(zip(route.edges, route.edges[1:], strict=False))
    assert_drivable(restricted, route, "emergency")
    assert route.travel_time_s == pytest.approx(
        reference_time(restricted, "A2B2", "C2D2", "emergency")
    )
    with pytest.raises(RouteError, match="no connection"):
        route_of(graph, ["A2B2", "B2C2"])


def test_vehicle_class_permissions(grid):
    lanes = dict(grid.lanes)
    for lid in grid.edges["B2C2"].lane_ids:
        lanes[lid] = dataclasses.replace(lanes[lid], allowed=frozenset({"pedestrian", "bicycle"}))
    net = dataclasses.replace(grid, lanes=lanes)
    graph = build_routing_graph(net, "emergency")
    route = fastest_route(graph, "A2B2", "D2E2")
    assert "B2C2" not in route.edges
    assert_drivable(net, route, "emergency")
    with pytest.raises(RouteError, match="'emergency'") as err:
        fastest_route(graph, "B2C2", "D2E2")
    assert "bicycle" in str(err.value)
    with pytest.raises(RouteError, match="no lane of the network allows"):
        build_routing_graph(net, "no-such-class")


# -- errors ----------------------------------------------------------------------------------
def test_unknown_edge_suggests(grid_graph):
    with pytest.raises(UnknownEdgeError) as err:
        fastest_route(grid_graph, "A2B2x", "D2E2")
    assert "A2B2" in err.value.suggestions and "'A2B2x'" in str(err.value)


def test_internal_edge_is_refused(grid, grid_graph):
    internal = next(e.id for e in grid.edges.values() if e.function == "internal")
    with pytest.raises(RouteError, match="road edge"):
        fastest_route(grid_graph, internal, "D2E2")


def _tiny_one_way() -> Network:
    """J0 -a-> J1 -b-> J2, one way, a dead end at J2 (hand-made from the model dataclasses)."""
    allow = frozenset({"passenger", "emergency"})
    xy = {"J0": 0.0, "J1": 100.0, "J2": 250.0}
    junctions = {j: Junction(j, "priority", x, 0.0, (), ()) for j, x in xy.items()}
    lanes = {
        "a_0": Lane("a_0", "a", 0, 100.0, 10.0, 3.2, allow, ((0.0, 0.0), (100.0, 0.0))),
        "b_0": Lane("b_0", "b", 0, 150.0, 15.0, 3.2, allow, ((100.0, 0.0), (250.0, 0.0))),
    }
    edges = {
        "a": Edge("a", "J0", "J1", ("a_0",), 100.0, 10.0),
        "b": Edge("b", "J1", "J2", ("b_0",), 150.0, 15.0),
    }
    links = (Link("J1", 0, "a_0", "b_0", None, "a", "b", "s", None, -1, False, 0.0, 10.0),)
    return Network(None, junctions, edges, lanes, links, {}, None, (0.0, 0.0, 250.0, 0.0))


def test_hand_made_network_and_unreachable():
    net = _tiny_one_way()
    graph = build_routing_graph(net)
    route = fastest_route(graph, "a", "b")
    assert route.edges == ("a", "b") and route.junctions == ("J1",)
    assert route.travel_time_s == pytest.approx(10.0 + 10.0)
    assert route.length_m == pytest.approx(250.0)
    with pytest.raises(
        RouteError,
        match=r"no route from 'b' to 'a' for vehicle class 'emergency' \(the destination is not reachable: no connection",
    ):
        fastest_route(graph, "b", "a")


# -- snapping --------------------------------------------------------------------------------
def test_snap_point_on_lane(grid, grid_graph):
    shape = grid.lanes["B2C2_0"].shape
    (x1, y1), (x2, y2) = shape[0], shape[-1]
    edge, offset, dist = snap_to_edge(grid, grid_graph, (x1 + x2) / 2, (y1 + y2) / 2)
    assert edge == "B2C2" and dist == pytest.approx(0.0, abs=1e-6)
    assert offset == pytest.approx(grid.lanes["B2C2_0"].length_m / 2, abs=0.5)
    with pytest.raises(RouteError, match="m away"):
        snap_to_edge(grid, grid_graph, -5000.0, -5000.0)


def test_snap_lonlat_round_trip_on_berlin(berlin, berlin_graph):
    for lane_id in berlin_graph.lane_ids[::97]:
        shape = berlin.lanes[lane_id].shape
        px = (shape[0][0] + shape[1][0]) / 2
        py = (shape[0][1] + shape[1][1]) / 2
        lon, lat = xy_to_lonlat(berlin.geo, px, py)
        edge, offset, dist = snap_lonlat(berlin, berlin_graph, lon, lat)
        assert dist < 0.01
        lane_edges = {berlin.lanes[lid].edge_id for lid in berlin_graph.lane_ids}
        assert edge in lane_edges
        if edge == berlin.lanes[lane_id].edge_id:
            assert 0.0 <= offset <= berlin.edges[edge].length_m
    with pytest.raises(RouteError, match="within 50 m"):
        snap_lonlat(berlin, berlin_graph, 0.0, 0.0)


# -- following the vehicle -------------------------------------------------------------------
def test_replan_and_remaining(grid_graph):
    route = fastest_route(grid_graph, "A2B2", "D2E2")
    assert not replan_needed(route, "B2C2")
    assert not replan_needed(route, ":B2_5")  # inside a junction of the route
    assert replan_needed(route, "B2B3")
    assert replan_needed(route, ":A4_0")
    rest = remaining_route(route, "C2D2")
    assert rest.edges == ("C2D2", "D2E2") and rest.junctions == ("D2",)
    assert rest.travel_time_s == pytest.approx(route.travel_time_s - route.end_times_s[1])
    half = remaining_route(route, "C2D2", offset_m=rest.edge_lengths_m[0] / 2)
    assert (
        rest.travel_time_s
        > half.travel_time_s
        > rest.travel_time_s - route.end_times_s[2] + route.end_times_s[1]
    )
    with pytest.raises(RouteError, match="left it"):
        remaining_route(route, "B2B3")
