"""Flow per detected lane from detector readings: now, and by time of day
(:mod:`clearway.state.flow_history`)."""

from __future__ import annotations

import numpy as np
import pytest

from clearway.state.flow_history import BIN_S, DAY_S, RECENT_S, FlowHistory
from clearway.state.traffic import TrafficState

LANES = ("a_0", "b_0")


def _reading(
    time_s: float, counts: tuple[float, float], speeds: tuple[float, float]
) -> TrafficState:
    z = np.zeros(2)
    return TrafficState(time_s, LANES, np.array(counts), z, z, z, np.array(speeds))


def _history() -> FlowHistory:
    return FlowHistory(lambda lane: 50.0)  # 50 m detectors


def test_flow_is_density_times_speed_and_the_recent_mean_follows_it():
    h = _history()
    for t in range(0, 3 * int(RECENT_S)):
        h.observe(_reading(float(t), (2.0, 0.0), (10.0, -1.0)))  # b: empty (speed -1)
    # 2 vehicles on 50 m at 10 m/s: 0.04 veh/m x 10 m/s = 0.4 veh/s = 1440 veh/h
    assert h.recent_vph("a_0") == pytest.approx(1440.0)
    assert h.recent_vph("b_0") == 0.0
    assert h.recent_vph("nowhere_0") == 0.0 and not h.has_lane("nowhere_0")
    flow, seen_s = h.profile_vph("a_0", 0.0, 100.0)
    assert flow == pytest.approx(1440.0) and seen_s == pytest.approx(BIN_S - 1)  # t = 1 .. 899


def test_red_and_green_average_out_over_a_cycle():
    h = _history()
    for t in range(0, 1800):
        green = (t // 30) % 2 == 0  # 30 s green, 30 s red
        h.observe(_reading(float(t), (4.0 if green else 6.0, 0.0), (10.0 if green else 0.0, 0.0)))
    flow, _ = h.profile_vph("a_0", 0.0, 1799.0)
    assert flow == pytest.approx(2880.0 / 2, rel=0.03)  # half the time at 2880 veh/h
    assert h.recent_vph("a_0") == pytest.approx(1440.0, rel=0.1)


def test_the_profile_is_by_time_of_day():
    h = _history()
    for t in range(0, 2 * int(BIN_S)):
        busy = t < BIN_S
        h.observe(_reading(float(t), (2.0 if busy else 1.0, 0.0), (10.0, 0.0)))
    first, _ = h.profile_vph("a_0", 10.0, 20.0)
    second, _ = h.profile_vph("a_0", BIN_S + 10.0, BIN_S + 20.0)
    both, seen_s = h.profile_vph("a_0", 10.0, BIN_S + 20.0)
    assert (first, second) == (pytest.approx(1440.0), pytest.approx(720.0))
    assert both == pytest.approx(1080.0, rel=0.01) and seen_s == pytest.approx(2 * BIN_S - 1)
    # the next day at the same time of day: the same bins
    assert h.profile_vph("a_0", DAY_S + 10.0, DAY_S + 20.0)[0] == pytest.approx(1440.0)
    # a time of day never seen
    assert h.profile_vph("a_0", 5 * BIN_S, 6 * BIN_S - 1) == (0.0, 0.0)


def test_gaps_are_not_averaged_across_and_a_new_lane_set_starts_afresh():
    h = _history()
    h.observe(_reading(0.0, (2.0, 0.0), (10.0, 0.0)))
    h.observe(_reading(500.0, (2.0, 0.0), (10.0, 0.0)))  # 500 s later: unknown in between
    assert h.observed_s == 0.0
    h.observe(_reading(501.0, (2.0, 0.0), (10.0, 0.0)))
    assert h.observed_s == pytest.approx(1.0)
    z = np.zeros(1)
    h.observe(TrafficState(502.0, ("c_0",), np.ones(1), z, z, z, np.ones(1)))
    assert not h.has_lane("a_0") and h.has_lane("c_0") and h.observed_s == 0.0
