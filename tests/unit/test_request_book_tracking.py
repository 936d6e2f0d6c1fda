"""The request book between and before GPS fixes: the matcher state of a request lives only as
long as the request, and a dispatched vehicle not heard of yet is taken to have left on time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.control.priority.plausibility import place_xy
from clearway.control.priority.registry import UNHEARD_DRIVE_S, RequestBook
from clearway.control.priority.request import (
    EdgePlace,
    PositionUpdate,
    PriorityRequestSpec,
    RequestState,
    XYPlace,
)
from clearway.control.priority.timing import junction_etas
from clearway.network import load_network
from tests.fakes.networks import netgenerate_grid

S = RequestState
ROUTE = ("A1B1", "B1C1", "C1D1")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return load_network(netgenerate_grid(tmp_path_factory.mktemp("track") / "grid.net.xml", 4))


@pytest.fixture
def book(net):
    return RequestBook(net)


def spec(rid="AMB-1", **kw) -> PriorityRequestSpec:
    base = dict(requester_id=rid, role="ambulance", importance=12, incident_id="INC-1", route=ROUTE)
    return PriorityRequestSpec.model_validate(base | kw)


def fix(net, t, edge, offset_m, dx_m=3.0, speed=12.0) -> PositionUpdate:
    """A GPS fix a few metres off the lane's centre line at ``offset_m`` along ``edge``."""
    x, y = place_xy(net, edge, offset_m)
    return PositionUpdate(
        time_s=t, place=XYPlace(x_m=x + dx_m, y_m=y), speed_mps=speed, accuracy_m=5.0
    )


# -- the matcher state ends with its request --------------------------------------------------
def test_a_gps_fix_opens_a_matcher_state_for_its_request_only(book, net):
    a = book.submit(spec("AMB-1"), 0.0)
    b = book.submit(spec("AMB-2"), 0.0)
    book.observe({"AMB-1": fix(net, 1.0, "A1B1", 40.0)}, 1.0)
    assert book.matching == {a.request_id}
    assert b.request_id not in book.matching
    (tracked,) = book.live()
    assert tracked.edge_id == "A1B1" and abs(tracked.offset_m - 40.0) < 5.0


def test_a_cancelled_request_drops_its_matcher_state(book, net):
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": fix(net, 1.0, "A1B1", 40.0)}, 1.0)
    assert req.request_id in book.matching
    book.cancel(req.request_id, 2.0)
    assert book.matching == frozenset()


def test_an_expired_request_drops_its_matcher_state(book, net):
    req = book.submit(spec(lease_s=10.0), 0.0)
    book.observe({"AMB-1": fix(net, 1.0, "A1B1", 40.0)}, 1.0)
    book.observe({}, 10.9)
    assert book.request(req.request_id).state is S.ACTIVE and req.request_id in book.matching
    book.observe({}, 11.0)
    assert book.request(req.request_id).state is S.EXPIRED
    assert book.matching == frozenset()


def test_a_completed_request_drops_its_matcher_state_and_others_keep_theirs(book, net):
    done = book.submit(spec("AMB-1"), 0.0)
    other = book.submit(spec("AMB-2"), 0.0)
    book.observe({"AMB-1": fix(net, 1.0, "C1D1", 150.0), "AMB-2": fix(net, 1.0, "A1B1", 40.0)}, 1.0)
    assert book.matching == {done.request_id, other.request_id}
    book.observe({"AMB-2": fix(net, 2.0, "A1B1", 52.0)}, 2.0)  # AMB-1 gone: it has arrived
    assert book.request(done.request_id).state is S.COMPLETED
    assert book.matching == {other.request_id}


def test_a_new_request_of_the_same_vehicle_starts_matching_afresh(book, net):
    """The matcher state is per request: a vehicle's next trip does not inherit the prior of
    its last one (another route)."""
    first = book.submit(spec(), 0.0)
    book.observe({"AMB-1": fix(net, 1.0, "A1B1", 40.0)}, 1.0)
    book.cancel(first.request_id, 2.0)
    second = book.submit(spec(), 3.0)
    assert book.matching == frozenset()
    book.observe({"AMB-1": fix(net, 4.0, "A1B1", 60.0)}, 4.0)
    assert book.matching == {second.request_id}


# -- before the first fix -------------------------------------------------------------------
@pytest.mark.parametrize(("now_s", "left_s"), [(5.0, 30.0), (30.0, 30.0), (31.0, 30.0),
                                               (60.0, 30.0), (61.0, 31.0), (200.0, 170.0)])  # fmt: skip
def test_a_dispatched_vehicle_not_heard_of_is_placed_at_its_origin_at_its_departure(
    book, now_s, left_s
):
    """Before and after ``depart_s``: the position is the origin at the departure, so the
    corridor projects it forward by the time since (the unit's first report is still on its
    way), instead of a vehicle that leaves only now — but never more than UNHEARD_DRIVE_S
    (30 s) on its way: unheard for longer, it is not driven on by itself."""
    book.submit(spec(depart_s=30.0), 0.0)
    (tracked,) = book.live(planned_at_s=now_s)
    assert (tracked.edge_id, tracked.offset_m, tracked.speed_mps) == ("A1B1", 0.0, 0.0)
    assert tracked.time_s == left_s
    assert list(book.live()) == []  # without the time now: only vehicles heard of


# -- what the corridor plans from ------------------------------------------------------------
def travel_etas(net, route, start_s, offset_m=0.0, speed_mps=0.0):
    """Oracle: arrival at the end of every route edge from ``offset_m`` on its first at
    ``start_s``, each edge at the higher of its limit and the speed (at least 3 m/s), summed."""
    t, out = start_s, []
    for i, edge_id in enumerate(route):
        edge = net.edges[edge_id]
        t += (edge.length_m - (offset_m if i == 0 else 0.0)) / max(edge.speed_mps, speed_mps, 3.0)
        out.append(t)
    return out


@settings(max_examples=40, deadline=None)
@given(depart_s=st.floats(0.0, 500.0), after_s=st.floats(-60.0, 60.0))
def test_an_unheard_vehicle_is_planned_as_if_it_left_on_time(net, depart_s, after_s):
    """Whenever the corridor plans (before or after the departure), the arrivals are those of
    a vehicle leaving its origin at ``depart_s``: not later for every second it is not heard."""
    book = RequestBook(net)
    book.submit(spec(depart_s=depart_s), 0.0)
    now_s = max(depart_s + after_s, 0.0)
    (tracked,) = book.live(planned_at_s=now_s)
    etas = junction_etas(
        net, ROUTE, tracked.edge_id, tracked.offset_m, tracked.speed_mps, tracked.time_s,
        now_s=now_s,
    )  # fmt: skip
    left_s = max(depart_s, now_s - UNHEARD_DRIVE_S)
    assert [e.eta_s for e in etas] == pytest.approx(travel_etas(net, ROUTE, left_s), abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(gap_s=st.floats(1.0, 8.0), offset_m=st.floats(150.0, 185.0), side_m=st.floats(40.0, 60.0))
def test_a_stray_fix_leaves_the_arrivals_of_the_last_good_one(net, gap_s, offset_m, side_m):
    """A fix on the cross street after B1 (not yet a turn: the next fix decides) renews the
    lease but plans nothing new: the arrivals stay those of the last fix on the route, from
    its place at its time."""
    book = RequestBook(net)
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": fix(net, 10.0, "A1B1", offset_m, dx_m=0.0)}, 10.0)
    (first,) = book.live()
    x, y = place_xy(net, "B1B2", side_m)
    stray = PositionUpdate(
        time_s=10.0 + gap_s, place=XYPlace(x_m=x, y_m=y), speed_mps=12.0, accuracy_m=5.0
    )
    book.observe({"AMB-1": stray}, 10.0 + gap_s)
    assert book.feed_errors == {}
    assert book.request(req.request_id).last_heard_s == 10.0 + gap_s
    (tracked,) = book.live()
    assert book.request(req.request_id).route == ROUTE
    assert (tracked.edge_id, tracked.offset_m, tracked.time_s) == (
        first.edge_id, first.offset_m, 10.0,
    )  # fmt: skip
    etas = junction_etas(
        net, ROUTE, tracked.edge_id, tracked.offset_m, 12.0, tracked.time_s, now_s=10.0 + gap_s
    )
    want = travel_etas(net, ROUTE, 10.0, first.offset_m, 12.0)
    assert [e.eta_s for e in etas] == pytest.approx(want, abs=1e-6)


def test_consecutive_fixes_are_fused_and_a_road_place_is_taken_as_given(net):
    book = RequestBook(net)
    book.submit(spec("AMB-1"), 0.0)
    book.submit(spec("AMB-2"), 0.0)
    for t in range(1, 6):
        gps = fix(net, float(t), "A1B1", 20.0 + 12.0 * t, dx_m=0.0, speed=12.0)
        gps = gps.model_copy(update={"accuracy_m": 15.0})
        road = PositionUpdate(
            time_s=float(t), place=EdgePlace(edge_id="A1B1", offset_m=20.0 + 12.0 * t),
            speed_mps=12.0,
        )  # fmt: skip
        book.observe({"AMB-1": gps, "AMB-2": road}, float(t))
    by_vehicle = {tr.request.spec.requester_id: tr for tr in book.live()}
    assert by_vehicle["AMB-1"].accuracy_m < 15.0 * 0.8  # five fixes say more than one
    assert by_vehicle["AMB-1"].offset_m == pytest.approx(80.0, abs=3.0)
    assert by_vehicle["AMB-2"].accuracy_m is None and by_vehicle["AMB-2"].offset_m == 80.0
