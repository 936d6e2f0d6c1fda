"""ETA along a route, queue discharge, and when green must start."""

from __future__ import annotations

import pytest

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
