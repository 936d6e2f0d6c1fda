"""The time-space trace: distance along the route, signals on it, aspects of the own movement."""

from __future__ import annotations

import math

import pytest

from clearway.control.priority.request import EdgePlace, PositionUpdate
from clearway.evaluation.trace import GREEN, RED, YELLOW, TraceRecorder, aspect, signals_on_route
from clearway.network import load_network
from clearway.network.routing import build_routing_graph, fastest_route
from tests.fakes.networks import netgenerate_grid


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return load_network(netgenerate_grid(tmp_path_factory.mktemp("g") / "g.net.xml", 3))


@pytest.fixture(scope="module")
def route(grid):
    return fastest_route(build_routing_graph(grid, "emergency"), "A0A1", "A2B2")


def _at(edge, offset, t, speed=10.0):
    return PositionUpdate(time_s=t, place=EdgePlace(edge_id=edge, offset_m=offset), speed_mps=speed)


def test_aspect_is_the_best_any_own_link_shows():
    assert aspect("rrGr", (2,)) == GREEN
    assert aspect("rrgr", (1, 2)) == GREEN
    assert aspect("ryrr", (0, 1)) == YELLOW
    assert aspect("rrrr", (0, 3)) == RED
    assert aspect("", (0,)) == RED


def test_signals_on_route_sit_at_the_stop_lines_in_driving_order(grid, route):
    sigs = signals_on_route(grid, route)
    assert [s.junction_id for s in sigs] == [j for j in route.junctions if j in grid.traffic_lights]
    assert [s.distance_m for s in sigs] == sorted(s.distance_m for s in sigs)
    for s in sigs:
        i = route.junctions.index(s.junction_id)
        assert s.distance_m == pytest.approx(route.end_lengths_m[i])
        links = [lk for lk in grid.signal_links(s.signal_id) if lk.signal_index in s.core_links]
        assert links and all(lk.from_edge == route.edges[i] for lk in links)
        assert all(lk.to_edge == route.edges[i + 1] for lk in links)


def test_recorder_measures_distance_along_the_route_through_junctions(grid, route):
    sigs = signals_on_route(grid, route)
    rec = TraceRecorder(grid, route, "ev1", "ev1", "ev1")
    states = {s.signal_id: "r" * grid.traffic_lights[s.signal_id].link_count for s in sigs}
    first_len = route.edge_lengths_m[0]
    rec.record(1.0, {}, states)  # not on the network yet
    rec.record(2.0, {"ev1": _at(route.edges[0], 50.0, 2.0)}, states)
    rec.record(3.0, {"ev1": _at(f":{route.junctions[0]}_3_0", 4.0, 3.0)}, states)
    # A second internal edge of the same passage starts again at offset 0.
    rec.record(3.5, {"ev1": _at(f":{route.junctions[0]}_9_0", 1.0, 3.5)}, states)
    rec.record(4.0, {"ev1": _at(route.edges[1], 10.0, 4.0)}, states)
    tr = rec.result()
    assert math.isnan(tr.distance_m[0]) and tr.distance_m[1] == pytest.approx(50.0)
    start_1 = route.end_lengths_m[1] - route.edge_lengths_m[1]
    assert first_len <= tr.distance_m[2] <= tr.distance_m[3] <= start_1
    assert tr.distance_m[4] == pytest.approx(start_1 + 10.0)
    assert tr.aspects[0] == "RRRRR" and rec.seen
    d = tr.to_dict()
    assert d["distance_m"][0] is None and len(d["signals"]) == len(sigs)
