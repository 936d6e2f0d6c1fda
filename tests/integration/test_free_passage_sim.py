"""Priority trips in SUMO: free flow ignores red, pairing without driver noise, spillback."""

from __future__ import annotations

from dataclasses import replace
from xml.etree import ElementTree

import pytest

from clearway.evaluation.free_flow import free_flow_times
from clearway.evaluation.priority_scenarios import build_plan, named_setup
from clearway.evaluation.spillback import SPILLBACK_FILL, max_queue_fill, route_lanes
from clearway.network import load_network
from clearway.network.routing import build_routing_graph, fastest_route
from clearway.sim.driver_noise import without_driver_noise
from clearway.sim.launch import sumo_command
from clearway.sim.priority_trips import PriorityTrip, with_priority_trips
from clearway.sim.scenario import build_grid, grid_scenario
from clearway.sim.sumo_env import run_tool

pytestmark = pytest.mark.sumo


def test_free_flow_vehicle_never_stops_at_red_while_the_same_vehicle_otherwise_does(tmp_path):
    net_file = build_grid(tmp_path, nx=4, ny=1)
    net = load_network(net_file)
    route = fastest_route(build_routing_graph(net, "emergency"), "left0A0", "D0right0")
    assert sum(j in net.traffic_lights for j in route.junctions) == 4
    # Several departures across the signals' 90 s cycle, so that some meet red.
    trips = [PriorityTrip(f"ev{k}", route.edges, 15.0 * k) for k in range(6)]
    free = free_flow_times(net_file, trips, tmp_path / "ff")
    stopping = free_flow_times(net_file, trips, tmp_path / "ff", ignore_red=False)
    for t in trips:
        assert free[t.trip_id].stops == 0, t.trip_id
        # Only the road's own time: length / speed limit, plus the first second of insertion.
        assert free[t.trip_id].time_s == pytest.approx(route.travel_time_s, abs=3.0)
    assert any(s.stops > 0 for s in stopping.values())
    assert max(s.time_s for s in stopping.values()) > route.travel_time_s + 10.0


def test_free_flow_on_a_real_city_does_not_depend_on_when_the_vehicle_leaves(tmp_path):
    from clearway.evaluation.priority_scenarios import BERLIN_NET, BERLIN_TRIP
    from clearway.sim.sumo_env import sumo_home

    net_file = sumo_home() / BERLIN_NET
    net = load_network(net_file)
    route = fastest_route(build_routing_graph(net, "emergency"), *BERLIN_TRIP)
    trips = [PriorityTrip(f"ev{k}", route.edges, 100.0 + 30.0 * k) for k in range(3)]
    free = free_flow_times(net_file, trips, tmp_path)
    # Joined signals, clusters, 10 signals: nothing on the way may hold it up.
    assert {f.stops for f in free.values()} == {0}
    assert len({f.time_s for f in free.values()}) == 1
    stopping = free_flow_times(net_file, trips, tmp_path, ignore_red=False)
    assert min(s.stops for s in stopping.values()) > 0


def _trips_by_vehicle(path):
    root = ElementTree.parse(path).getroot()
    return {t.get("id"): (t.get("timeLoss"), t.get("arrival")) for t in root.iter("tripinfo")}


def test_without_driver_noise_a_far_away_vehicle_changes_nobody_elses_trip(tmp_path):
    sc = grid_scenario(tmp_path, size="3x3", seed=1, end_s=600.0, load="moderate")
    far = PriorityTrip("ev1", ("bottom0A0", "A0left0"), 200.0)  # one corner, early in the run

    def changed(base) -> tuple[int, int]:
        ref, run = tmp_path / "ref.xml", tmp_path / "run.xml"
        run_tool(sumo_command(base, 1.0, ref, None), what="reference")
        run_tool(sumo_command(with_priority_trips(base, [far], tmp_path), 1.0, run, None), what="run")
        a, b = _trips_by_vehicle(ref), _trips_by_vehicle(run)
        return sum(1 for vid, v in a.items() if b[vid] != v), len(a)

    noisy, n = changed(sc)
    calm, _ = changed(replace(sc, route_files=without_driver_noise(sc.route_files, tmp_path)))
    # With dawdling, the one extra vehicle reshuffles SUMO's random streams for most others.
    assert noisy > 0.2 * n
    assert calm <= 0.01 * n


def test_spillback_scenario_queues_reach_the_junction_upstream(tmp_path):
    plan = build_plan(named_setup("spillback", tmp_path), [1])
    sc = plan.scenarios[1]
    sc = replace(sc, route_files=without_driver_noise(sc.route_files, tmp_path / "demand"))
    fill = max_queue_fill(sc, plan.net, route_lanes(plan.net, plan.trips[0].edges), tmp_path)
    assert max(fill.values()) >= SPILLBACK_FILL
