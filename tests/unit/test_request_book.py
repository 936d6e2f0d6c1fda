"""The request book on a real (generated) network: planning, rejecting, following the vehicle,
re-planning, completing, expiring and cancelling requests."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from clearway.control.priority.lifecycle import RequestStateError
from clearway.control.priority.registry import RequestBook
from clearway.control.priority.request import (
    EdgePlace,
    JunctionStatus,
    LonLat,
    PositionUpdate,
    PriorityRequestSpec,
    RequestState,
)
from clearway.errors import RouteError, UnknownEdgeError, UnknownRequestError
from clearway.network import load_network
from tests.fakes.networks import netgenerate_grid

S = RequestState
ROUTE = ("A1B1", "B1C1", "C1D1")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    # 4 x 4 grid; nothing leads into corner A0 any more, so A0A1 and A0B0 cannot be reached.
    out = netgenerate_grid(
        tmp_path_factory.mktemp("book") / "grid.net.xml", 4, "--remove-edges.explicit", "A1A0,B0A0"
    )
    return load_network(out)


@pytest.fixture
def book(net):
    return RequestBook(net)


def spec(rid="AMB-1", **kw) -> PriorityRequestSpec:
    base = dict(requester_id=rid, role="ambulance", importance=12, incident_id="INC-1")
    if "destination" not in kw and "route" not in kw:
        kw["route"] = ROUTE
    return PriorityRequestSpec.model_validate(base | kw)


def at(t, edge, offset=10.0, speed=12.0) -> PositionUpdate:
    return PositionUpdate(time_s=t, place=EdgePlace(edge_id=edge, offset_m=offset), speed_mps=speed)


def signals_crossed(net, route):
    """Independent: traffic lights at the downstream junction of every edge but the last."""
    out = []
    for e in route[:-1]:
        j = net.edges[e].to_junction
        for tl in net.traffic_lights.values():
            if j in tl.junction_ids and tl.id not in out:
                out.append(tl.id)
    return out


def connected(net, route):
    return all(
        any(lk.from_edge == a and lk.to_edge == b for lk in net.links)
        for a, b in zip(route, route[1:], strict=False)
    )


# -- submit ----------------------------------------------------------------------------------
def test_an_explicit_route_is_planned_as_given(book, net):
    req = book.submit(spec(), 5.0)
    assert req.state is S.PLANNED and req.route == ROUTE
    assert list(req.junctions) == signals_crossed(net, ROUTE) == ["B1", "C1"]
    assert set(req.junctions.values()) == {JunctionStatus.PROCESSING}
    assert book.request(req.request_id) is req and req.request_id.startswith("AMB-1")
    assert req.created_s == 5.0 and req.lease_expires_s == 5.0 + req.spec.lease_s


def test_origin_and_destination_get_the_fastest_route(book, net):
    req = book.submit(
        spec(origin={"edge_id": "A1B1", "offset_m": 20.0}, destination={"edge_id": "D1D2"}), 0.0
    )
    assert req.state is S.PLANNED
    assert req.route[0] == "A1B1" and req.route[-1] == "D1D2"
    assert connected(net, req.route)
    # on a grid of equal blocks the fastest way is one with the fewest blocks: 4 edges
    assert len(req.route) == 4
    assert list(req.junctions) == signals_crossed(net, req.route)


def test_two_requests_of_one_vehicle_get_distinct_ids(book):
    a, b = book.submit(spec(), 0.0), book.submit(spec(), 1.0)
    assert a.request_id != b.request_id and set(book.requests) == {a.request_id, b.request_id}


@pytest.mark.parametrize(
    "kw",
    [
        {"route": ("A1B1", "B1C9", "C1D1")},
        {"origin": {"edge_id": "A1B1"}, "destination": {"edge_id": "nowhere"}},
        {"origin": {"edge_id": "X1Y1"}, "destination": {"edge_id": "C1D1"}},
    ],
)
def test_an_unknown_edge_is_refused_and_the_request_kept_as_rejected(book, kw):
    with pytest.raises(UnknownEdgeError) as err:
        book.submit(spec(**kw), 3.0)
    (req,) = book.requests.values()
    assert req.state is S.REJECTED
    t, state, reason = req.history[-1]
    assert (t, state) == (3.0, S.REJECTED) and reason == str(err.value)
    assert err.value.unknown_id in reason
    assert list(book.live()) == []


def test_an_unreachable_destination_is_a_route_error(book):
    with pytest.raises(RouteError, match="not reachable"):
        book.submit(spec(origin={"edge_id": "C1D1"}, destination={"edge_id": "A0A1"}), 0.0)
    (req,) = book.requests.values()
    assert req.state is S.REJECTED and "A0A1" in req.history[-1][2]


def test_a_disconnected_explicit_route_is_a_route_error(book):
    with pytest.raises(RouteError, match="no connection"):
        book.submit(spec(route=("A1B1", "C1D1")), 0.0)
    (req,) = book.requests.values()
    assert req.state is S.REJECTED and req.junctions == {}


def test_a_request_without_origin_is_refused(book):
    with pytest.raises(RouteError, match="origin"):
        book.submit(spec(destination={"edge_id": "C1D1"}), 0.0)
    assert next(iter(book.requests.values())).state is S.REJECTED


# -- position updates ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload, field",
    [
        ({"time_s": 1.0, "place": {"edge_id": "A1B1"}, "speed_mps": -1.0}, "speed_mps"),
        ({"time_s": 1.0, "place": {"edge_id": "A1B1"}, "speed_mps": math.nan}, "speed_mps"),
        ({"time_s": math.nan, "place": {"edge_id": "A1B1"}, "speed_mps": 1.0}, "time_s"),
        ({"time_s": math.inf, "place": {"edge_id": "A1B1"}, "speed_mps": 1.0}, "time_s"),
        ({"time_s": -1.0, "place": {"edge_id": "A1B1"}, "speed_mps": 1.0}, "time_s"),
        (
            {"time_s": 1.0, "place": {"edge_id": "A1B1", "offset_m": -3}, "speed_mps": 1.0},
            "offset_m",
        ),
        ({"time_s": 1.0, "place": {"edge_id": ""}, "speed_mps": 1.0}, "edge_id"),
        ({"time_s": 1.0, "place": {"lon": 13.0, "lat": 95.0}, "speed_mps": 1.0}, "lat"),
        ({"time_s": 1.0, "place": {"edge_id": "A1B1"}, "speed_mps": 1.0, "heading": 3}, "heading"),
        ({"time_s": 1.0, "speed_mps": 1.0}, "place"),
        ({"time_s": 1.0, "place": {"edge_id": "A1B1"}, "speed_mps": 99.0}, "speed_mps"),
    ],
)
def test_malformed_position_updates_are_refused_naming_the_field(payload, field):
    with pytest.raises(ValidationError) as err:
        PositionUpdate.model_validate(payload)
    assert field in str(err.value)


def test_the_first_update_activates_and_the_vehicle_is_followed(book):
    req = book.submit(spec(), 0.0)
    assert list(book.live()) == []  # planned, not heard of yet
    book.observe({"AMB-1": at(2.0, "A1B1", 30.0, 11.0)}, 2.0)
    req = book.request(req.request_id)
    assert req.state is S.ACTIVE and req.last_heard_s == 2.0
    (tracked,) = book.live()
    assert (tracked.edge_id, tracked.offset_m, tracked.speed_mps, tracked.time_s) == (
        "A1B1", 30.0, 11.0, 2.0,
    )  # fmt: skip


def test_updates_of_other_vehicles_and_older_updates_are_ignored(book):
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": at(5.0, "A1B1", 50.0)}, 5.0)
    book.observe({"AMB-1": at(4.0, "A1B1", 40.0), "OTHER": at(6.0, "B1C1")}, 6.0)
    (tracked,) = book.live()
    assert tracked.offset_m == 50.0 and book.request(req.request_id).last_heard_s == 5.0


def test_inside_a_junction_the_vehicle_counts_as_on_its_next_edge(book, net):
    """Past the stop line (on an internal edge ``:B1_16``) it is at the start of the next edge
    of its route: no re-plan, and the junction behind it is no longer ahead of it."""
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": at(1.0, "A1B1", 170.0)}, 1.0)
    book.observe({"AMB-1": at(2.0, ":B1_16", 2.0)}, 2.0)
    req = book.request(req.request_id)
    assert req.route == ROUTE and req.state is S.ACTIVE and req.last_heard_s == 2.0
    assert [h[2] for h in req.history].count("route planned") == 1
    (tracked,) = book.live()
    assert (tracked.edge_id, tracked.offset_m) == ("B1C1", 0.0)


def test_several_ticks_inside_one_junction_advance_the_vehicle_by_one_edge_only(book, net):
    """A long junction takes more than one tick to cross: the vehicle stays at the start of the
    edge after it (the junction after that one must stay ahead of it)."""
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": at(1.0, "A1B1", 170.0)}, 1.0)
    for t in (2.0, 3.0, 4.0):
        book.observe({"AMB-1": at(t, ":B1_16", t - 1.0)}, t)
    (tracked,) = book.live()
    assert (tracked.edge_id, tracked.offset_m) == ("B1C1", 0.0)
    assert book.signals_ahead(req.request_id) >= {"C1"}


def test_a_vehicle_that_leaves_its_route_gets_a_new_route_to_the_same_destination(book, net):
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": at(1.0, "A1B1", 100.0)}, 1.0)
    book.observe({"AMB-1": at(20.0, "B1B2", 30.0)}, 20.0)  # turned left at B1 instead
    req = book.request(req.request_id)
    assert req.state is S.ACTIVE
    assert req.route[0] == "B1B2" and req.route[-1] == ROUTE[-1] and connected(net, req.route)
    assert list(req.junctions) == signals_crossed(net, req.route)
    assert "B1" not in req.junctions  # already behind it
    assert [h[2] for h in req.history].count("route planned") == 2
    (tracked,) = book.live()
    assert (tracked.edge_id, tracked.offset_m) == ("B1B2", 30.0)


def test_a_vehicle_on_its_route_is_not_replanned(book):
    req = book.submit(spec(), 0.0)
    for k, edge in enumerate(ROUTE):
        book.observe({"AMB-1": at(1.0 + k, edge)}, 1.0 + k)
    req = book.request(req.request_id)
    assert req.route == ROUTE and [h[2] for h in req.history].count("route planned") == 1


def test_a_vehicle_gone_after_its_last_edge_has_completed(book):
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": at(1.0, "A1B1")}, 1.0)
    book.observe({"AMB-1": at(30.0, "C1D1", 150.0)}, 30.0)
    assert book.request(req.request_id).state is S.ACTIVE
    book.observe({}, 31.0)
    req = book.request(req.request_id)
    assert req.state is S.COMPLETED and req.history[-1][:2] == (31.0, S.COMPLETED)
    assert req.junctions == {} and list(book.live()) == []


def test_a_vehicle_gone_in_the_middle_of_its_route_has_not_completed(book):
    req = book.submit(spec(lease_s=10.0), 0.0)
    book.observe({"AMB-1": at(1.0, "B1C1")}, 1.0)
    book.observe({}, 2.0)
    assert book.request(req.request_id).state is S.ACTIVE


def test_a_vehicle_still_reported_on_its_last_edge_has_not_completed(book):
    """A feed gives 'the latest position of each tracked vehicle' (ports.PriorityVehicleFeed);
    one that updates less often than the loop ticks repeats it. The vehicle is still on the
    network: only its absence means it has arrived."""
    req = book.submit(spec(), 0.0)
    last = at(30.0, "C1D1", 20.0)
    book.observe({"AMB-1": at(1.0, "A1B1")}, 1.0)
    book.observe({"AMB-1": last}, 30.0)
    book.observe({"AMB-1": last}, 31.0)  # no newer position yet: the same one again
    assert book.request(req.request_id).state is S.ACTIVE


def test_a_silent_vehicle_expires_after_its_lease(book):
    req = book.submit(spec(lease_s=10.0), 0.0)
    book.observe({"AMB-1": at(5.0, "A1B1")}, 5.0)
    book.observe({}, 14.9)
    assert book.request(req.request_id).state is S.ACTIVE
    book.observe({}, 15.0)
    req = book.request(req.request_id)
    assert req.state is S.EXPIRED and "lease" in req.history[-1][2]
    assert list(book.live()) == [] and req.junctions == {}
    # a late update does not revive it (nor raise)
    book.observe({"AMB-1": at(16.0, "B1C1")}, 16.0)
    assert book.request(req.request_id).state is S.EXPIRED


def test_updates_renew_the_lease(book):
    req = book.submit(spec(lease_s=10.0), 0.0)
    for t in range(1, 40, 3):
        book.observe({"AMB-1": at(float(t), "A1B1", float(t))}, float(t))
    assert book.request(req.request_id).state is S.ACTIVE
    assert book.request(req.request_id).lease_expires_s == 47.0


def test_an_update_stamped_in_the_future_does_not_stretch_the_lease(book):
    """The lease is the controller's guarantee that a lost vehicle frees its junctions. An
    update whose time stamp is far ahead of the controller's clock (a sender's clock off, or a
    bad payload) must not keep the request alive past ``lease_s`` of silence."""
    req = book.submit(spec(lease_s=10.0), 0.0)
    book.observe({"AMB-1": at(1000.0, "A1B1")}, 1.0)
    book.observe({}, 11.0)
    assert book.request(req.request_id).state is S.EXPIRED


def test_a_request_never_heard_of_expires_from_its_creation(book):
    req = book.submit(spec(lease_s=10.0), 3.0)
    book.observe({}, 12.9)
    assert book.request(req.request_id).state is S.PLANNED
    book.observe({}, 13.0)
    assert book.request(req.request_id).state is S.EXPIRED


def test_cancel_ends_a_request_and_later_updates_change_nothing(book):
    req = book.submit(spec(), 0.0)
    book.observe({"AMB-1": at(1.0, "A1B1")}, 1.0)
    cancelled = book.cancel(req.request_id, 2.0, "dispatcher called it off")
    assert cancelled.state is S.CANCELLED and cancelled.history[-1] == (
        2.0, S.CANCELLED, "dispatcher called it off",
    )  # fmt: skip
    assert book.request(req.request_id) is cancelled and list(book.live()) == []
    book.observe({"AMB-1": at(3.0, "B1C1")}, 3.0)
    assert book.request(req.request_id).state is S.CANCELLED
    with pytest.raises(RequestStateError):
        book.cancel(req.request_id, 4.0)
    with pytest.raises(UnknownRequestError):
        book.cancel("no-such-request", 4.0)


# -- a bad feed must not stop the control loop ------------------------------------------------
# ``observe`` runs inside PreemptionController.propose, i.e. inside every control tick: an
# exception there stops the loop for every junction of the city. A position the book cannot
# use must be dropped (its lease not renewed), and the other vehicles still followed.
@pytest.mark.parametrize(
    "place",
    [
        EdgePlace(edge_id="Z9Z8", offset_m=3.0),  # no such edge
        LonLat(lon=13.4, lat=52.5),  # this net has no geo-reference / far from any lane
    ],
    ids=["unknown-edge", "lonlat-off-network"],
)
def test_an_unusable_position_does_not_break_observe(book, place):
    bad_req = book.submit(spec("AMB-1", lease_s=10.0), 0.0)
    good_req = book.submit(spec("AMB-2", lease_s=10.0), 0.0)
    book.observe({"AMB-1": at(1.0, "A1B1", 5.0)}, 1.0)
    bad = PositionUpdate(time_s=2.0, place=place, speed_mps=10.0)
    book.observe({"AMB-1": bad, "AMB-2": at(2.0, "A1B1", 20.0)}, 2.0)  # must not raise
    assert book.request(good_req.request_id).state is S.ACTIVE  # the other vehicle is followed
    bad_now = book.request(bad_req.request_id)
    assert bad_now.state is S.ACTIVE
    # the unusable update is not taken as a sign of life: the lease runs from the last good one
    assert bad_now.last_heard_s == 1.0
    book.observe({}, 11.0)
    assert book.request(bad_req.request_id).state is S.EXPIRED
