"""When the evaluation's dispatcher hands a trip's request to the strategy: ``dispatch_lead_s``
before its vehicle leaves (30 s by default; a replay of a service request uses 0)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from clearway.evaluation.priority_run import DISPATCH_LEAD_S, RunJob, _Dispatcher
from clearway.network import load_network
from clearway.network.routing import build_routing_graph, fastest_route
from clearway.sim.priority_trips import PriorityTrip
from clearway.sim.scenario import Scenario
from tests.fakes.networks import netgenerate_grid

pytestmark = pytest.mark.sumo

DEPART_S = 100.0


class _Desk:
    def __init__(self) -> None:
        self.submitted_at: list[float] = []
        self.requests: dict[str, SimpleNamespace] = {}

    def submit(self, spec, now_s):
        self.submitted_at.append(now_s)
        rid = f"r{len(self.submitted_at)}"
        self.requests[rid] = SimpleNamespace(advice=None, route=spec.route)
        return SimpleNamespace(request_id=rid, route=spec.route)


class _Twin:
    def track_priority_vehicle(self, vid):
        pass

    def priority_positions(self):
        return {}

    def read_signal_states(self):
        return {}

    def advise_speed(self, vid, speed):
        pass


def _submitted_at(tmp_path, **lead) -> list[float]:
    net_file = netgenerate_grid(tmp_path / "g.net.xml", 3)
    net = load_network(net_file)
    route = fastest_route(build_routing_graph(net, "emergency"), "A0A1", "B2C2")
    trip = PriorityTrip("ev1", route.edges, DEPART_S)
    sc = Scenario("g", net_file, (), (), None, 1, 600.0)
    job = RunJob("corridor", sc, "corridor", (trip,), (route,), (), tmp_path, 600.0, **lead)
    desk = _Desk()
    dispatcher = _Dispatcher(job, SimpleNamespace(twin=_Twin(), priority=desk), net)
    for t in range(0, 130):
        dispatcher.on_tick(float(t))
    return desk.submitted_at


def test_by_default_the_request_comes_ahead_of_the_vehicle(tmp_path):
    assert _submitted_at(tmp_path) == [DEPART_S - DISPATCH_LEAD_S]


def test_with_no_lead_it_comes_as_the_vehicle_leaves(tmp_path):
    assert _submitted_at(tmp_path, dispatch_lead_s=0.0) == [DEPART_S]
