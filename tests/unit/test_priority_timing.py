"""ETA along a route, queue discharge, and when green must start."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.control.priority.timing import (
    JAM_SPACING_M,
    SATURATION_HEADWAY_S,
    STARTUP_LOST_S,
    TAIL_HEADWAY_S,
    green_start_s,
    junction_etas,
    queue_discharge_s,
)
from clearway.errors import RouteError
from clearway.network.model import Edge, Network
from clearway.signals.timers import SignalTimers
from clearway.signals.transition import time_to_reach_s
from tests.fakes.junctions import four_leg


def chain(lengths_m=(200.0, 100.0, 300.0), speed_mps=10.0) -> Network:
    edges = {
        f"e{i}": Edge(f"e{i}", f"J{i}", f"J{i + 1}", (f"e{i}_0",), length, speed_mps)
        for i, length in enumerate(lengths_m)
    }
    return Network(None, {}, edges, {}, (), {}, None, (0, 0, 0, 0))


def test_eta_accumulates_remaining_length_over_speed():
    net = chain()
    etas = junction_etas(net, ("e0", "e1", "e2"), "e0", 50.0, 10.0, 100.0)
    assert [e.junction_id for e in etas] == ["J1", "J2", "J3"]
    assert [e.eta_s for e in etas] == pytest.approx([115.0, 125.0, 155.0])
    assert [e.distance_m for e in etas] == pytest.approx([150.0, 250.0, 550.0])
    assert etas[0].next_edge == "e1" and etas[-1].next_edge is None


def test_an_emergency_vehicle_faster_than_the_limit_is_planned_at_its_speed():
    etas = junction_etas(chain(), ("e0",), "e0", 0.0, 20.0, 0.0)
    assert etas[0].eta_s == pytest.approx(10.0)


def test_a_standing_vehicle_still_gets_a_finite_eta_from_the_speed_limit():
    etas = junction_etas(chain(speed_mps=0.5), ("e0",), "e0", 0.0, 0.0, 0.0)
    assert etas[0].eta_s == pytest.approx(200.0 / 3.0)


def test_off_route_position_asks_for_a_replan():
    with pytest.raises(RouteError, match="not on its route; re-plan"):
        junction_etas(chain(), ("e0", "e1"), "e2", 0.0, 10.0, 0.0)


def test_queue_discharge_follows_saturation_flow():
    assert queue_discharge_s(0.0) == 0.0
    assert queue_discharge_s(75.0) == pytest.approx(STARTUP_LOST_S + 10 * SATURATION_HEADWAY_S + TAIL_HEADWAY_S)
    assert queue_discharge_s(75.0, lanes=2) == pytest.approx(STARTUP_LOST_S + 5 * SATURATION_HEADWAY_S + TAIL_HEADWAY_S)
    assert JAM_SPACING_M == 7.5


def test_green_starts_early_enough_for_queue_and_transition():
    start = green_start_s(eta_s=100.0, queue_m=75.0, transition_s=6.0)
    assert start == pytest.approx(100.0 - (2.0 + 10 * 3600 / 1900 + TAIL_HEADWAY_S) - 6.0)


def test_time_to_reach_counts_min_green_yellow_and_clearance():
    model = four_leg(min_green_s=5.0, yellow_s=3.5, clearance_s=2.0)
    fresh = SignalTimers.start("J", "GrgG", 0.0)
    # 5 s min green, then 4 ticks of yellow (3.5 s), then 2 s clearance.
    assert time_to_reach_s(model, fresh, "rGrG", 0.0) == pytest.approx(11.0)
    served = fresh.observe("GrgG", 30.0)
    assert time_to_reach_s(model, served, "rGrG", 30.0) == pytest.approx(6.0)
    assert time_to_reach_s(model, served, "GrgG", 30.0) == 0.0
    assert time_to_reach_s(model, served, "GGgG", 30.0, limit_s=60) == float("inf")


# -- reports that are old or inexact (an AVL unit's) --------------------------------------------


def test_an_old_report_is_projected_forward_by_its_age():
    """A report 5 s old at 50 m gives the arrivals a fresh one would have given 5 s ago — not
    arrivals 5 s later — and the vehicle is 5 s x 10 m/s further on now."""
    net = chain()
    old = junction_etas(net, ("e0", "e1", "e2"), "e0", 50.0, 10.0, 100.0, now_s=105.0)
    assert [e.eta_s for e in old] == pytest.approx([115.0, 125.0, 155.0])
    assert [e.distance_m for e in old] == pytest.approx([100.0, 200.0, 500.0])
    # The same as a fresh report where the projection puts it.
    fresh = junction_etas(net, ("e0", "e1", "e2"), "e0", 100.0, 10.0, 105.0)
    assert [e.eta_s for e in fresh] == pytest.approx([e.eta_s for e in old])


def test_a_report_older_than_the_time_to_the_junction_predicts_it_passed():
    etas = junction_etas(chain(), ("e0", "e1"), "e0", 180.0, 10.0, 100.0, now_s=104.0)
    assert etas[0].eta_s == pytest.approx(102.0) and etas[0].distance_m == pytest.approx(-20.0)


def test_an_inexact_report_arrives_earliest_from_ahead_and_passes_latest_from_behind():
    net = chain()
    etas = junction_etas(net, ("e0", "e1", "e2"), "e0", 100.0, 10.0, 0.0, spread_m=30.0)
    assert [e.eta_s for e in etas] == pytest.approx([7.0, 17.0, 47.0])
    assert [e.late_s for e in etas] == pytest.approx([13.0, 23.0, 53.0])
    assert etas[0].distance_m == pytest.approx(70.0)


def test_junctions_within_the_spread_behind_the_report_are_still_listed():
    """20 m into e1 with 30 m of spread: it may still be before J1's stop line."""
    etas = junction_etas(chain(), ("e0", "e1", "e2"), "e1", 20.0, 10.0, 50.0, spread_m=30.0)
    assert [e.junction_id for e in etas] == ["J1", "J2", "J3"]
    assert etas[0].late_s == pytest.approx(51.0)
    assert etas[0].eta_s == pytest.approx(45.0)  # passed, at the earliest 5 s ago
    assert etas[0].distance_m == pytest.approx(-50.0)


def test_the_spread_is_clamped_to_the_route():
    etas = junction_etas(chain(), ("e0",), "e0", 10.0, 10.0, 0.0, spread_m=500.0)
    assert etas[0].eta_s == pytest.approx(0.0)  # may already be at the route's end
    assert etas[0].late_s == pytest.approx(20.0)  # from the route's start


def test_an_exact_report_has_one_passage_time():
    etas = junction_etas(chain(), ("e0", "e1"), "e0", 10.0, 10.0, 3.0)
    assert all(e.late_s == e.eta_s for e in etas)


def _oracle(lengths, speeds, v_report, k, offset, t_s, now_s, spread):
    """Per junction (earliest arrival, latest passage, distance now) worked out on the whole
    route's distance from its start: time to a distance summed edge by edge, where the front
    is now found by bisection."""
    marks, pos = [], 0.0
    for length in lengths:
        pos += length
        marks.append(pos)
    here = sum(lengths[:k]) + offset

    def time_to(d):  # from route start, at planning speeds
        t, x = 0.0, 0.0
        for v_lim, end in zip(speeds, marks, strict=True):
            v = max(v_lim, v_report, 3.0)
            seg = min(end, d) - x
            if seg > 0:
                t += seg / v
                x += seg
        return t

    front = min(here + spread, marks[-1])
    rear = max(here - spread, 0.0)
    t_front = time_to(front)
    # Where the front-most vehicle is at now: bisection on the monotone time_to.
    lo, hi = front, marks[-1] + 1e4
    if now_s - t_s <= 0:
        now_d = front
    elif time_to(marks[-1]) - t_front <= now_s - t_s:
        v_last = max(speeds[-1], v_report, 3.0)
        now_d = marks[-1] + (now_s - t_s - (time_to(marks[-1]) - t_front)) * v_last
    else:
        for _ in range(80):
            mid = (lo + hi) / 2
            (lo, hi) = (mid, hi) if time_to(mid) - t_front < now_s - t_s else (lo, mid)
        now_d = lo
    out = []
    for end in marks:
        if end <= rear:
            continue  # the back of the spread is over this stop line: passed for sure
        out.append((t_s + time_to(end) - t_front, t_s + time_to(end) - time_to(rear), end - now_d))
    return out


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.floats(5.0, 400.0), min_size=1, max_size=5),
    speed_seed=st.lists(st.floats(2.0, 25.0), min_size=5, max_size=5),
    v_report=st.floats(0.0, 30.0),
    where=st.floats(0.0, 0.999),  # at the very end of an edge is on its stop line
    age_s=st.floats(0.0, 30.0),
    spread=st.floats(0.0, 60.0),
)
def test_etas_match_an_independent_integration(lengths, speed_seed, v_report, where, age_s, spread):
    speeds = speed_seed[: len(lengths)]
    edges = {
        f"e{i}": Edge(f"e{i}", f"J{i}", f"J{i + 1}", (f"e{i}_0",), length, v)
        for i, (length, v) in enumerate(zip(lengths, speeds, strict=True))
    }
    net = Network(None, {}, edges, {}, (), {}, None, (0, 0, 0, 0))
    route = tuple(edges)
    k = min(int(where * len(lengths)), len(lengths) - 1)
    offset = (where * len(lengths) - k) * lengths[k]
    got = junction_etas(net, route, f"e{k}", offset, v_report, 100.0, now_s=100.0 + age_s,
                        spread_m=spread)  # fmt: skip
    want = _oracle(lengths, speeds, v_report, k, offset, 100.0, 100.0 + age_s, spread)
    assert len(got) == len(want)
    for (eta, late, dist), e in zip(want, got, strict=True):
        assert e.eta_s == pytest.approx(eta, abs=1e-6)
        assert e.late_s == pytest.approx(late, abs=1e-6)
        assert e.distance_m == pytest.approx(dist, abs=1e-3)
        assert e.eta_s <= e.late_s
