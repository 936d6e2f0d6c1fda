"""Arbitration between priority requests at one junction, and the state that serves a claim."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.control.priority.arbitration import (
    Claim,
    arbitrate,
    claim_links,
    priority_state,
    reported,
    settle,
)
from clearway.control.priority.request import JunctionStatus
from clearway.errors import RouteError
from clearway.network import load_network
from clearway.signals.build import build_intersections
from tests.fakes.junctions import four_leg
from tests.fakes.networks import netgenerate_grid

G, W = JunctionStatus.GRANTED, JunctionStatus.WATCH_OTHER_TRAFFIC
P = JunctionStatus.PROCESSING


def claim(rid, links, importance=10, eta=0.0, sid="J"):
    return Claim(rid, sid, frozenset(links), importance, eta)


def test_higher_importance_wins_then_earlier_eta():
    m = four_leg()
    assert arbitrate(m, [claim("amb", {0}, 12, 30.0), claim("pol", {1}, 8, 5.0)]) == {
        "amb": G,
        "pol": W,
    }
    assert arbitrate(m, [claim("a", {0}, 10, 30.0), claim("b", {1}, 10, 5.0)]) == {"a": W, "b": G}


def test_claims_on_compatible_movements_are_both_granted():
    m = four_leg()
    assert arbitrate(m, [claim("a", {0}), claim("b", {3}), claim("c", {0, 3})]) == {
        "a": G,
        "b": G,
        "c": G,
    }


def test_a_permissive_pair_still_clashes_for_priority():
    # 2 may run permissive beside 0 in normal operation, but a priority vehicle is not made to yield.
    assert arbitrate(four_leg(), [claim("a", {0}, 10), claim("b", {2}, 9)]) == {"a": G, "b": W}


def test_priority_state_protects_claimed_links_and_stops_their_foes():
    m = four_leg()
    assert priority_state(m, {1}, "GrgG") == "rGrG"
    assert priority_state(m, {0}, "rGrG") == "GrrG"


SIZE = 4


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    out = netgenerate_grid(tmp_path_factory.mktemp("arb") / "grid.net.xml", SIZE)
    net = load_network(out)
    return net, build_intersections(net)


def test_claim_links_cover_the_movement_and_the_rest_of_its_lanes(grid):
    net, _ = grid
    core, links = claim_links(net, "B1", "A1B1", "B1C1")
    straight = {
        lk.signal_index
        for lk in net.signal_links("B1")
        if (lk.from_edge, lk.to_edge) == ("A1B1", "B1C1")
    }
    assert core == straight and core <= links
    lanes = {lk.from_lane for lk in net.signal_links("B1") if lk.signal_index in links}
    assert lanes <= {"A1B1_0", "A1B1_1"}
    with pytest.raises(RouteError, match="drives no movement"):
        claim_links(net, "B1", "A1B1", "C2C1")


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_granted_claims_never_conflict_and_their_state_has_no_conflicting_greens(grid, data):
    net, models = grid
    sid = data.draw(st.sampled_from(sorted(models)))
    model = models[sid]
    links = net.signal_links(sid)
    moves = sorted({(lk.from_edge, lk.to_edge) for lk in links if not lk.is_crossing})
    claims = []
    for k in range(data.draw(st.integers(1, 5))):
        a, b = data.draw(st.sampled_from(moves))
        claims.append(Claim(f"r{k}", sid, claim_links(net, sid, a, b)[1],
                            data.draw(st.integers(0, 15)), data.draw(st.floats(0, 120))))  # fmt: skip
    verdict = arbitrate(model, claims)
    granted = [c for c in claims if verdict[c.request_id] is G]
    assert granted, "the first claim in order is always granted"
    for x in granted:
        for y in granted:
            if x is not y:
                assert not any(i != j and model.conflicts(i, j) for i in x.links for j in y.links)
    best = min(claims, key=lambda c: (-c.importance, c.eta_s, c.request_id))
    assert verdict[best.request_id] is G
    union = frozenset().union(*(c.links for c in granted))
    current = net.traffic_lights[sid].default_program.phases[0].state
    state = priority_state(model, union, current)
    assert model.conflicting_greens(state) == []
    assert all(state[i] in "Gg" for i in union)


REAL = [
    "DRT/osm.net.xml",
    "bs3d/bs.net.xml",
    "fokr_bs_demo/fokr_bs.net.xml.gz",
    "A10KW/osm.net.xml",
]


@pytest.mark.parametrize("rel", REAL)
def test_every_movement_of_real_junctions_gets_a_conflict_free_priority_state(rel):
    import sumo

    net = load_network(Path(sumo.SUMO_HOME) / "tools" / "game" / rel)
    models = build_intersections(net)
    checked = 0
    for sid, model in models.items():
        current = net.traffic_lights[sid].default_program.phases[0].state
        for a, b in sorted(
            {(lk.from_edge, lk.to_edge) for lk in net.signal_links(sid) if not lk.is_crossing}
        ):
            core, links = claim_links(net, sid, a, b)
            state = priority_state(model, links, current, core=core)
            assert model.conflicting_greens(state) == [], (sid, a, b, state)
            assert all(state[i] in "Gg" for i in core), (sid, a, b, state)
            checked += 1
    assert checked > 0


@given(
    etas=st.lists(st.floats(0.0, 600.0), min_size=1, max_size=6, unique=True),
    waits=st.sets(st.integers(0, 5)),
)
def test_a_vehicle_told_to_wait_is_granted_nothing_it_reaches_after(etas, waits):
    """settle against a direct reading of the rule: along one vehicle's junctions (ETAs),
    a grant at a junction reached after the first one where it must wait is 'processing'."""
    verdicts = [
        (f"J{k}", claim("amb", {0}, eta=eta, sid=f"J{k}"), frozenset({0}), W if k in waits else G)
        for k, eta in enumerate(etas)
    ]
    granted, statuses = settle(verdicts)
    first_wait = min((etas[k] for k in waits if k < len(etas)), default=float("inf"))
    for k, eta in enumerate(etas):
        want = W if k in waits else (G if eta <= first_wait else P)
        assert statuses["amb"][f"J{k}"] is want
        assert (f"J{k}" in granted) == (want is G)
        if want is G:
            assert granted[f"J{k}"] == [(verdicts[k][1], frozenset({0}))]


def test_reported_statuses_follow_verdicts_holds_and_the_vehicle():
    from clearway.control.priority.lifecycle import PriorityRequest
    from clearway.control.priority.request import PriorityRequestSpec

    spec = PriorityRequestSpec.model_validate(
        dict(requester_id="AMB", role="ambulance", importance=12, incident_id="I",
             route=["a", "b", "c", "d"])
    )  # fmt: skip
    req = PriorityRequest.new("r1", spec, 0.0).planned(("a", "b", "c", "d"), ("J1", "J2", "J3"), 0.0)
    assert set(req.junctions) == {"J1", "J2", "J3"}
    # before it is heard of (nothing known ahead): verdicts where given, holds, else processing
    (out,) = reported([req], lambda rid: None, {"r1": {"J3": W}}, held={("J2", "r1")})
    assert dict(out.junctions) == {"J1": P, "J2": G, "J3": W}
    # nothing changes: nothing to report
    assert reported([out], lambda rid: None, {"r1": {"J3": W}}, held={("J2", "r1")}) == []
    # J1 passed: dropped, unless its hold still lasts for the tail
    ahead = lambda rid: frozenset({"J2", "J3"})  # noqa: E731
    (later,) = reported([out], ahead, {}, held=set())
    assert dict(later.junctions) == {"J2": P, "J3": P}
    (tail,) = reported([out], ahead, {}, held={("J1", "r1")}, lingering={("J1", "r1")})
    assert dict(tail.junctions) == {"J1": G, "J2": P, "J3": P}
    # a finished request is left alone
    done = out.to_state(out.state.__class__.CANCELLED, 1.0, "test")
    assert reported([done], ahead, {}, held=set()) == []
