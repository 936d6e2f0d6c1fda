"""The request book re-routes a live request when a street ahead jams: its route, history and
junction statuses follow; without a re-routing policy nothing changes."""

from __future__ import annotations

import numpy as np
import pytest

from clearway.control.priority.registry import RequestBook
from clearway.control.priority.request import (
    EdgePlace,
    JunctionStatus,
    PositionUpdate,
    PriorityRequestSpec,
)
from clearway.control.priority.reroute import ReroutePolicy
from clearway.network import load_network
from clearway.state.traffic import TrafficState
from tests.fakes.networks import netgenerate_grid

ROUTE = ("A1B1", "B1C1", "C1D1")
JAMMED = "B1C1"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return load_network(netgenerate_grid(tmp_path_factory.mktemp("rr") / "grid.net.xml", 4))


def spec() -> PriorityRequestSpec:
    return PriorityRequestSpec.model_validate(
        dict(requester_id="AMB-1", role="ambulance", importance=12, incident_id="I", route=ROUTE)
    )


def at(t: float, edge: str, offset: float) -> dict[str, PositionUpdate]:
    place = EdgePlace(edge_id=edge, offset_m=offset)
    return {"AMB-1": PositionUpdate(time_s=t, place=place, speed_mps=12.0)}


def traffic(net, t: float) -> TrafficState:
    """Detectors on every lane: all empty but the jammed street's, where traffic crawls."""
    ids = tuple(lane for e in net.edges.values() if e.is_normal for lane in e.lane_ids)
    jam = np.array([lane.rsplit("_", 1)[0] == JAMMED for lane in ids])
    count = np.where(jam, 3.0, 0.0)
    speed = np.where(jam, 1.5, -1.0)
    z = np.zeros(len(ids))
    return TrafficState(t, ids, count, z, z, z, speed)


def signals_crossed(net, route):
    """Independent: traffic lights at the downstream junction of every edge but the last."""
    out = []
    for e in route[:-1]:
        j = net.edges[e].to_junction
        out += [tl.id for tl in net.traffic_lights.values() if j in tl.junction_ids and tl.id not in out]
    return out


def drive(book, net, until_s: float = 26.0):
    """The vehicle drives A1B1 at 5 m/s from 10 m, one update a second, the jam on B1C1
    reported all the while."""
    rid = book.submit(spec(), 0.0).request_id
    for t in np.arange(1.0, until_s + 0.5):
        book.observe(at(t, "A1B1", 10.0 + 5.0 * (t - 1.0)), t, traffic(net, t))
    return book.request(rid)


def test_a_jam_ahead_reroutes_the_request(net):
    book = RequestBook(net)
    book.reroute = ReroutePolicy()
    req = drive(book, net)
    assert req.route != ROUTE and JAMMED not in req.route
    assert req.route[0] == "A1B1" and req.route[-1] == ROUTE[-1]
    t, _, why = req.history[-1]
    # Checks every 5 s from 1 s; the crawl is news once it has filled LiveTimes' 10 s window
    # (two 5 s slices: the check at 6 s), and confirmed at the next check.
    assert t == 11.0 and why.startswith("rerouted: ") and "s faster" in why and " via " in why
    assert set(req.junctions) == set(signals_crossed(net, req.route))
    assert all(s is JunctionStatus.PROCESSING for s in req.junctions.values())
    assert book.reroutes == {req.request_id: 1}
    # Confirmed at the second check, not the first.
    once = RequestBook(net)
    once.reroute = ReroutePolicy()
    assert drive(once, net, until_s=10.0).route == ROUTE


def test_without_a_policy_the_route_stays(net):
    book = RequestBook(net)
    req = drive(book, net)
    assert req.route == ROUTE and book.reroutes == {}
