"""--priority / --convoy parsing, trip routing and the SUMO files written for the trips."""

from __future__ import annotations

import pytest

from clearway.errors import ConfigError, RouteError, UnknownEdgeError
from clearway.evaluation.trip_spec import (
    TripRequest,
    parse_convoy,
    parse_priority,
    plan_trips,
)
from clearway.network import load_network
from clearway.network.routing import build_routing_graph, fastest_route
from clearway.sim.priority_trips import (
    PRIORITY_VTYPE_ID,
    VEHICLE_LENGTH_M,
    PriorityTrip,
    write_priority_routes,
    write_priority_vtype,
)
from tests.fakes.networks import netgenerate_grid


def test_priority_with_and_without_role():
    assert parse_priority("A0A1:A1A2@30") == TripRequest("A0A1", "A1A2", 30.0, "ambulance", 1)
    assert parse_priority("-12#0:99#3@12.5:fire") == TripRequest("-12#0", "99#3", 12.5, "fire", 1)


def test_convoy_has_a_vehicle_count():
    assert parse_convoy("a:b@300:8") == TripRequest("a", "b", 300.0, "convoy", 8)


@pytest.mark.parametrize(
    "text, message",
    [
        ("A0A1:A1A2", "malformed"),
        ("A0A1@30", "malformed"),
        ("a:b:c@30", "malformed"),
        (":b@30", "malformed"),
        ("a:b@", "malformed"),
        ("a:b@soon", "not a number"),
        ("a:b@-5", ">= 0"),
        ("a:b@inf", ">= 0"),
        ("a:b@nan", ">= 0"),
        ("a:b@30:pilot", "unknown role"),
        ("a:b@30:convoy", "--convoy"),
    ],
)
def test_malformed_priority_is_refused_with_the_format(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_priority(text)


@pytest.mark.parametrize(
    "text, message",
    [("a:b@30", "number of vehicles"), ("a:b@30:1", "2-200"), ("a:b@30:x", "number of vehicles"),
     ("a:b@30:500", "2-200")],
)  # fmt: skip
def test_malformed_convoy_is_refused(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_convoy(text)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return load_network(netgenerate_grid(tmp_path_factory.mktemp("g") / "g.net.xml", 3))


def test_trips_follow_the_routers_fastest_route_and_are_named(grid):
    reqs = [parse_priority("A0A1:C1C2@10"), parse_convoy("A0B0:C0C1@20:4")]
    trips, routes = plan_trips(grid, reqs)
    assert [t.trip_id for t in trips] == ["ev1", "convoy1"]
    assert trips[1].vehicle_ids == ("convoy1.0", "convoy1.1", "convoy1.2", "convoy1.3")
    assert trips[0].importance == 12 and trips[1].importance == 8
    graph = build_routing_graph(grid, "emergency")
    assert trips[0].edges == fastest_route(graph, "A0A1", "C1C2").edges == routes[0].edges


def test_unknown_edges_and_single_edge_trips_are_refused(grid):
    with pytest.raises(UnknownEdgeError, match="did you mean"):
        plan_trips(grid, [parse_priority("A0A9:C1C2@10")])
    with pytest.raises(RouteError, match="never leaves its first edge"):
        plan_trips(grid, [parse_priority("A0A1:A0A1@10")])
    with pytest.raises(ConfigError, match="no priority trip"):
        plan_trips(grid, [])


def test_route_file_has_every_convoy_vehicle_in_departure_order(tmp_path):
    trips = [
        PriorityTrip("late", ("x", "y"), 50.0),
        PriorityTrip("cv", ("a", "b"), 10.0, role="convoy", vehicle_count=3, headway_s=2.0),
    ]
    text = write_priority_routes(trips, tmp_path / "r.xml").read_text()
    order = [text.index(f'id="{v}"') for v in ("cv.0", "cv.1", "cv.2", "late")]
    assert order == sorted(order)
    assert 'depart="14.00"' in text and '<route edges="a b"/>' in text
    assert trips[1].platoon_length_m(10.0) == pytest.approx(2 * 2.0 * 10.0 + VEHICLE_LENGTH_M)


def test_vtype_draws_no_random_numbers_and_bluelight_and_red_are_optional(tmp_path):
    plain = write_priority_vtype(tmp_path / "a.xml").read_text()
    assert f'id="{PRIORITY_VTYPE_ID}"' in plain and 'vClass="emergency"' in plain
    for attr in ('sigma="0"', 'speedDev="0"', 'speedFactor="1"'):
        assert attr in plain
    assert "bluelight" not in plain and "jmDriveAfterRedTime" not in plain
    both = write_priority_vtype(tmp_path / "b.xml", bluelight=True, ignore_red=True).read_text()
    assert 'key="has.bluelight.device" value="true"' in both and "jmDriveAfterRedTime" in both


@pytest.mark.parametrize(
    "kwargs, message",
    [({"trip_id": "a b"}, "letters"), ({"edges": ()}, "at least one edge"),
     ({"depart_s": -1.0}, ">= 0"), ({"vehicle_count": 0}, "1-200"), ({"headway_s": 0.0}, "positive")],
)  # fmt: skip
def test_trip_checks_its_fields(kwargs, message):
    fields = {"trip_id": "ev1", "edges": ("a",), "depart_s": 0.0, **kwargs}
    with pytest.raises(ConfigError, match=message):
        PriorityTrip(**fields)
