"""Re-routing on the way: the hysteresis (margin, confirmation, hold-down) on its own, and the
check over a real (generated) grid: too close to turn, never off the vehicle's edge."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.control.priority.reroute import (
    RerouteError,
    ReroutePolicy,
    RerouteState,
    check_route,
    corridor_time_s,
    judge,
)
from clearway.network import load_network
from clearway.network.routing import build_routing_graph, route_of
from tests.fakes.networks import netgenerate_grid

POLICY = ReroutePolicy()  # 15 s and 10 %, 2 checks, 60 s hold-down unless 50 %
TURN = ("B1C1", "C1C2")
OTHER_TURN = ("B1C1", "C1C0")
ROUTE = ("A1B1", "B1C1", "C1D1", "D1D2")


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    net = load_network(netgenerate_grid(tmp_path_factory.mktemp("reroute") / "g.net.xml", 4))
    return build_routing_graph(net)


def slow(graph, **edge_s: float) -> np.ndarray:
    times = np.array(graph.free_flow_s, dtype=float)
    for edge, t in edge_s.items():
        times[graph.index[edge]] = t
    return times


# -- judge: the hysteresis -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("current_s", "best_s", "wins"),
    [
        (300.0, 286.0, False),  # 14 s: under the absolute margin
        (300.0, 280.0, False),  # 20 s but 6.7 %: under the relative one
        (100.0, 86.0, False),  # 14 %, but 14 s
        (150.0, 135.0, True),  # 15 s and 10 %: both met
    ],
)
def test_a_switch_needs_both_margins(current_s, best_s, wins):
    state, switch, _ = judge(POLICY, RerouteState(), 0.0, current_s, best_s, TURN)
    assert switch is False  # never on the first check
    state, switch, _ = judge(POLICY, state, 5.0, current_s, best_s, TURN)
    assert switch is wins


def test_a_clear_gain_must_hold_checks_in_a_row_whichever_way_round_is_best():
    s1, sw1, why1 = judge(POLICY, RerouteState(), 0.0, 200.0, 100.0, TURN)
    assert not sw1 and s1.streak == 1 and "confirmed (1/2)" in why1
    # A check without a clear gain in between starts the count again.
    s2, sw2, _ = judge(POLICY, s1, 5.0, 200.0, 195.0, TURN)
    assert not sw2 and s2.streak == 0 and s2.candidate == ()
    s3, sw3, _ = judge(POLICY, s2, 10.0, 200.0, 100.0, TURN)
    assert not sw3 and s3.streak == 1
    # Another way round is best now (ways of equal time take turns): the gain held, switch.
    s4, sw4, why4 = judge(POLICY, s3, 15.0, 200.0, 110.0, OTHER_TURN)
    assert sw4 and s4.switches == 1 and s4.switched_s == 15.0
    assert "90 s faster" in why4


def test_after_a_switch_only_a_large_gain_switches_within_the_hold_down():
    state = RerouteState(switched_s=100.0, switches=1)
    # 40 % faster, twice, within the hold-down: kept.
    s, sw, why = judge(POLICY, state, 110.0, 100.0, 60.0, TURN)
    s, sw2, _ = judge(POLICY, s, 115.0, 100.0, 60.0, TURN)
    assert not sw and not sw2 and "just switched" in why
    # 55 % faster: a second incident, not noise.
    s, _, _ = judge(POLICY, state, 110.0, 100.0, 45.0, TURN)
    _, sw3, _ = judge(POLICY, s, 115.0, 100.0, 45.0, TURN)
    assert sw3
    # Once the hold-down is over, the ordinary margins apply again.
    s, _, _ = judge(POLICY, state, 160.0, 100.0, 80.0, TURN)
    _, sw4, _ = judge(POLICY, s, 165.0, 100.0, 80.0, TURN)
    assert sw4


def test_bad_settings_are_refused_with_their_names():
    with pytest.raises(RerouteError, match="min_gain_s=-1"):
        ReroutePolicy(min_gain_s=-1)
    with pytest.raises(RerouteError, match="confirm_checks=0"):
        ReroutePolicy(confirm_checks=0)


@settings(max_examples=200, deadline=None)
@given(
    regimes=st.lists(st.booleans(), min_size=2, max_size=80),
    gains=st.lists(st.floats(0.0, 0.45), min_size=80, max_size=80),
    base_s=st.floats(150.0, 600.0),
)
def test_alternating_times_never_flap_faster_than_the_hold_down(regimes, gains, base_s):
    """Two routes whose edge times alternate arbitrarily (each check, either may be faster
    by up to 45 %, under the hold-down's 50 %): oracle — a switch only after
    ``confirm_checks`` winning checks in a row, and never two switches within the
    hold-down; so at most one switch per hold-down period."""
    policy = POLICY
    state, current = RerouteState(), "x"
    switches: list[float] = []
    streak = 0
    for k, x_faster in enumerate(regimes):
        now = k * policy.check_every_s
        other = "y" if current == "x" else "x"
        other_faster = (x_faster and other == "x") or (not x_faster and other == "y")
        gain = gains[k] * base_s if other_faster else 0.0
        turn = ("A", other) if other_faster else ()
        state, switch, _ = judge(policy, state, now, base_s, base_s - gain, turn)
        held = bool(switches) and now - switches[-1] < policy.hold_down_s
        wins = other_faster and gain >= policy.min_gain_s and gain / base_s >= policy.min_gain_frac
        streak = streak + 1 if wins and not held else 0
        if switch:
            assert streak >= policy.confirm_checks
            switches.append(now)
            current, streak = other, 0
    gaps = np.diff(switches)
    assert np.all(gaps >= policy.hold_down_s)
    span = (len(regimes) - 1) * policy.check_every_s
    assert len(switches) <= 1 + span // policy.hold_down_s


# -- check_route over a grid ---------------------------------------------------------------
def test_a_jammed_street_ahead_is_driven_round_after_two_checks(graph):
    times = slow(graph, B1C1=300.0)
    d1 = check_route(POLICY, RerouteState(), graph, ROUTE, "A1B1", 10.0, 0.0, times)
    assert d1.route is None and d1.state.streak == 1
    d2 = check_route(POLICY, d1.state, graph, ROUTE, "A1B1", 60.0, 5.0, times)
    assert d2.route is not None
    new = d2.route.edges
    assert new[0] == "A1B1" and new[-1] == ROUTE[-1] and "B1C1" not in new
    assert d2.gain_s >= POLICY.min_gain_s
    # Independent timing: the new route from the same place under the same times.
    assert route_of(graph, new, edge_times_s=times, origin_offset_m=60.0).travel_time_s == (
        pytest.approx(d2.best_s)
    )
    assert d2.reason.startswith("rerouted: ") and " via " in d2.reason


def test_too_close_to_the_junction_the_route_is_kept(graph):
    times = slow(graph, B1C1=300.0)
    length = float(graph.length_m[graph.index["A1B1"]])
    state = RerouteState(candidate=("A1B1", "B1B2"), streak=5)
    d = check_route(POLICY, state, graph, ROUTE, "A1B1", length - 20.0, 0.0, times)
    assert d.route is None and "too close" in d.reason
    assert d.state.streak == 5  # waits for the next edge, neither confirmed nor reset


def test_free_flowing_streets_keep_the_route(graph):
    times = np.array(graph.free_flow_s, dtype=float)
    d = check_route(POLICY, RerouteState(), graph, ROUTE, "A1B1", 10.0, 0.0, times)
    assert d.route is None and d.gain_s == 0.0 and d.state.streak == 0


def test_a_vehicle_off_its_route_is_not_rerouted_here(graph):
    times = slow(graph, B1C1=300.0)
    d = check_route(POLICY, RerouteState(), graph, ROUTE, "B2C2", 10.0, 0.0, times)
    assert d.route is None and "off its route" in d.reason


@settings(max_examples=40, deadline=None)
@given(
    slow_s=st.lists(st.floats(0.0, 400.0), min_size=3, max_size=3),
    at=st.sampled_from(ROUTE[:-1]),
    offset=st.floats(0.0, 120.0),
)
def test_a_new_route_always_starts_on_the_vehicle_s_edge(graph, slow_s, at, offset):
    times = np.array(graph.free_flow_s, dtype=float)
    for edge, extra in zip(ROUTE[1:], slow_s, strict=True):
        times[graph.index[edge]] += extra
    quick = ReroutePolicy(confirm_checks=1)
    d = check_route(quick, RerouteState(), graph, ROUTE, at, offset, 0.0, times)
    if d.route is not None:
        assert d.route.edges[0] == at and d.route.edges[-1] == ROUTE[-1]
        route_of(graph, d.route.edges)  # drivable: raises otherwise
        assert d.gain_s >= quick.min_gain_s


def test_a_corridor_route_is_charged_only_the_queue_left_at_its_eta(graph):
    route = route_of(graph, ROUTE)
    queue = np.zeros(graph.n)
    queue[graph.index["A1B1"]] = 100.0  # the first junction: far more than its ETA
    queue[graph.index["B1C1"]] = 10.0  # the second: flushed before the vehicle is there
    eta = route.end_times_s
    assert eta[1] > 10.0
    assert corridor_time_s(graph, route, queue) == pytest.approx(
        route.travel_time_s + 100.0 - eta[0]
    )


def test_a_queue_the_corridor_flushes_mostly_in_time_does_not_reroute(graph):
    runs = np.array(graph.free_flow_s, dtype=float)
    queue = np.zeros(graph.n)
    queue[graph.index["B1C1"]] = 60.0  # at C1, ~28 s ahead: the corridor flushes most of it
    state = RerouteState()
    for k in range(3):
        d = check_route(POLICY, state, graph, ROUTE, "A1B1", 10.0 + 5 * k, 5.0 * k, runs, queue)
        state = d.state
        assert d.route is None and d.gain_s < POLICY.min_gain_s
    # Charged in full, the same queue would send the vehicle round the block.
    charged = check_route(POLICY, RerouteState(), graph, ROUTE, "A1B1", 10.0, 0.0, runs + queue)
    assert charged.gain_s >= POLICY.min_gain_s and charged.state.streak == 1
