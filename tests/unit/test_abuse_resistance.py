"""Positions and holds a sender cannot abuse: a physically impossible sample (a GPS glitch
2 km away, 300 km/h) is refused and renews nothing, so a request fed only such samples
expires; a request lives at most ``max_duration_s`` without an explicit renewal."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearway.control.priority.plausibility import (
    MAX_PLAUSIBLE_SPEED_MPS,
    POSITION_SLACK_M,
    implausible,
)
from clearway.control.priority.registry import RequestBook
from clearway.control.priority.request import PriorityRequestSpec, RequestState
from tests.unit.test_request_book import ROUTE, at, net  # noqa: F401 - its grid fixture

S = RequestState


def spec(**kw) -> PriorityRequestSpec:
    base = dict(requester_id="AMB-1", role="ambulance", importance=12, incident_id="INC-1",
                route=ROUTE, lease_s=30.0)  # fmt: skip
    return PriorityRequestSpec.model_validate(base | kw)


@given(st.floats(0, 5000), st.floats(0.0, 600.0), st.floats(0.0, 70.0))
def test_plausible_exactly_when_reachable(dist_m, dt_s, speed):
    reason = implausible((0.0, 0.0), 100.0, (dist_m, 0.0), 100.0 + dt_s, speed)
    reachable = dist_m <= MAX_PLAUSIBLE_SPEED_MPS * dt_s + POSITION_SLACK_M
    assert (reason is None) == (reachable and speed <= MAX_PLAUSIBLE_SPEED_MPS), reason


def test_plausible_speed_follows_the_network(net):  # noqa: F811
    from clearway.control.priority.plausibility import plausible_speed_mps

    fastest = max(e.speed_mps for e in net.edges.values() if e.is_normal)
    assert plausible_speed_mps(net) == max(25.0, 1.5 * fastest)
    assert implausible(None, None, None, 1.0, 30.0, max_speed_mps=25.0)


def test_limits_exactly():
    v, slack = MAX_PLAUSIBLE_SPEED_MPS, POSITION_SLACK_M
    assert implausible((0, 0), 0.0, (v * 10 + slack, 0), 10.0, 10.0) is None
    assert "moved" in implausible((0, 0), 0.0, (v * 10 + slack + 0.01, 0), 10.0, 10.0)
    assert implausible(None, None, (1e6, 0), 1.0, v) is None  # nothing to compare with
    assert "km/h" in implausible(None, None, None, 1.0, v + 0.01)
    # Backwards in time counts as no time at all: only the slack is allowed.
    assert "moved" in implausible((0, 0), 10.0, (slack + 1, 0), 9.0, 5.0)


def test_a_gps_glitch_is_refused_and_renews_nothing(net):  # noqa: F811
    book = RequestBook(net)
    req = book.submit(spec(lease_s=5.0), 0.0)
    book.observe({"AMB-1": at(1.0, ROUTE[0], 10.0)}, 1.0)
    assert book.request(req.request_id).state is S.ACTIVE
    # Far away a second later (a road edge at the far corner of the grid, 400+ m).
    far = max((e for e in net.edges.values() if e.is_normal), key=lambda e: math.dist(
        (net.junctions[e.to_junction].x_m, net.junctions[e.to_junction].y_m), (0.0, 0.0)))  # fmt: skip
    book.observe({"AMB-1": at(2.0, far.id, 0.0)}, 2.0)
    assert "moved" in book.feed_errors[req.request_id]
    rec = book.request(req.request_id)
    assert rec.route == ROUTE and rec.last_heard_s == 1.0  # not re-planned, lease not renewed
    # Only glitches from now on (none reachable within the lease of 5 s at this network's
    # plausible speed): the request expires after its lease.
    for t in range(3, 12):
        book.observe({"AMB-1": at(float(t), far.id, float(t))}, float(t))
    assert book.request(req.request_id).state is S.EXPIRED
    # A plausible sample in between is used again (and clears the error).
    book2 = RequestBook(net)
    r2 = book2.submit(spec(requester_id="AMB-2"), 0.0)
    book2.observe({"AMB-2": at(1.0, ROUTE[0], 10.0)}, 1.0)
    book2.observe({"AMB-2": at(2.0, far.id, 0.0)}, 2.0)
    book2.observe({"AMB-2": at(3.0, ROUTE[0], 30.0)}, 3.0)
    assert r2.request_id not in book2.feed_errors
    assert book2.request(r2.request_id).last_heard_s == 3.0


def test_a_request_is_not_held_beyond_its_maximum_without_renewal(net):  # noqa: F811
    book = RequestBook(net)
    req = book.submit(spec(max_duration_s=120.0), 0.0)
    offset = 0.0
    for t in range(1, 120):  # a vehicle crawling along, heard of every second
        offset += 0.5
        book.observe({"AMB-1": at(float(t), ROUTE[0], offset, speed=0.5)}, float(t))
        if t == 100:
            book.renew(req.request_id, 100.0)  # its owner still needs it
    assert book.request(req.request_id).state is S.ACTIVE
    assert book.request(req.request_id).deadline_s == pytest.approx(220.0)
    for t in range(120, 221):
        offset += 0.5
        book.observe({"AMB-1": at(float(t), ROUTE[0], offset, speed=0.5)}, float(t))
    rec = book.request(req.request_id)
    assert rec.state is S.EXPIRED and "maximum duration" in rec.history[-1][2]
    with pytest.raises(Exception, match="cannot be renewed"):
        book.renew(req.request_id, 230.0)


def test_max_duration_counts_from_a_later_departure(net):  # noqa: F811
    book = RequestBook(net)
    req = book.submit(spec(depart_s=500.0, max_duration_s=60.0), 0.0)
    assert book.request(req.request_id).deadline_s == 560.0
