"""The hold's cost to everyone else from detector queues (Little's law): the queue a hold adds
above the junction's normal-operation mean, integrated while it is held or recovers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.control.priority.hold_cost import HoldCostMeter, total_veh_h
from clearway.network.graph import JAM_SPACING_M
from clearway.state.traffic import TrafficState


@dataclass(frozen=True)
class _Link:
    from_lane: str


class _Net:
    """Two signals: S with approach lanes a and b, T with lane c."""

    lanes = {"S": ("a", "b", "a"), "T": ("c",)}

    def signal_links(self, sid):
        return [_Link(lane) for lane in self.lanes[sid]]


LANES = ("a", "b", "c", "x")


def _state(t, queues_m):
    q = np.array([queues_m.get(lane, 0.0) for lane in LANES])
    z = np.zeros(len(LANES))
    return TrafficState(t, LANES, z, z, q, z, z)


def test_the_cost_is_the_queue_above_the_mean_over_the_hold():
    m = HoldCostMeter(_Net(), ["S", "T"], baseline_s=300.0)
    # Normal operation: 2 vehicles queued at S (15 m on a), steady.
    for t in range(0, 100):
        m.observe(_state(float(t), {"a": 15.0}), [], float(t))
    # Held 30 s: lane b (cut) queues 8 vehicles more, lane a keeps its 2.
    for t in range(100, 131):
        m.observe(_state(float(t), {"a": 15.0, "b": 8 * JAM_SPACING_M}), ["S"], float(t))
    cost = m.finish("S")
    assert cost == pytest.approx(8 * 31 / 3600)  # 31 snapshots of 1 s while held
    assert m.finish("S") == 0.0  # finished: starts afresh
    assert m.finish("T") == 0.0  # seen, never held


def test_a_held_green_that_drains_its_approach_counts_against_the_cut_one():
    m = HoldCostMeter(_Net(), ["S"])
    for t in range(50):
        m.observe(_state(float(t), {"a": 30.0}), [], float(t))  # 4 vehicles, steady
    for t in range(50, 60):
        m.observe(_state(float(t), {"a": 0.0, "b": 15.0}), ["S"], float(t))  # a drained, b +2
    assert m.finish("S") == pytest.approx((2 - 4) * 10 / 3600)


def test_no_mean_yet_or_no_such_signal_is_not_estimated():
    m = HoldCostMeter(_Net(), ["S"])
    m.observe(_state(0.0, {"a": 50.0}), ["S"], 0.0)  # held from its first snapshot
    assert m.finish("S") is None
    assert m.finish("nowhere") is None
    assert total_veh_h([None, None]) is None and total_veh_h([0.1, None, 0.2]) == pytest.approx(0.3)


def _oracle(steps, baseline_s):
    """Plain bookkeeping of one signal: (queue per tick, busy per tick) -> cost (veh·h)."""
    mean, seen, excess, last = 0.0, False, 0.0, None
    for t, queue_veh, busy in steps:
        dt = 0.0 if last is None else t - last
        last = t
        if busy:
            excess += (queue_veh - mean) * dt
        elif not seen:
            mean, seen = queue_veh, True
        else:
            mean += min(dt / baseline_s, 1.0) * (queue_veh - mean)
    return excess / 3600.0 if seen else None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.1, 5.0), st.floats(0.0, 200.0), st.floats(0.0, 200.0), st.booleans()),
        min_size=1, max_size=60,
    ),
    st.floats(10.0, 900.0),
)
def test_the_meter_matches_plain_bookkeeping(ticks, baseline_s):
    m = HoldCostMeter(_Net(), ["S"], baseline_s=baseline_s)
    t, steps = 0.0, []
    for dt, qa, qb, busy in ticks:
        t += dt
        m.observe(_state(t, {"a": qa, "b": qb}), ["S"] if busy else [], t)
        # Lane a feeds two of S's links but is counted once.
        steps.append((t, (qa + qb) / JAM_SPACING_M, busy))
    want = _oracle(steps, baseline_s)
    got = m.finish("S")
    assert (got is None) == (want is None)
    if want is not None:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
