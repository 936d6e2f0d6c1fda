"""Fusing GPS fixes along the route: against the inverse-variance mean of the drive and the
fix, tighter than one fix for a cruising vehicle, no tighter for one changing speed, and
starting afresh where the drive cannot explain the fix."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.control.priority.along_track import (
    GATE_SIGMAS,
    MIN_SIGMA_M,
    TRACK_ACCEL_MPS2,
    TrackEstimate,
    fuse,
    route_distance_m,
    route_place,
)
from clearway.network.model import Edge, Link, Network

ROUTE = ("e0", "e1", "e2")


def chain(lengths_m=(200.0, 100.0, 300.0)) -> Network:
    edges = {
        f"e{i}": Edge(f"e{i}", f"J{i}", f"J{i + 1}", (f"e{i}_0",), length, 13.9)
        for i, length in enumerate(lengths_m)
    }
    return Network(None, {}, edges, {}, (), {}, None, (0, 0, 0, 0))


@settings(max_examples=200, deadline=None)
@given(
    d0=st.floats(0.0, 500.0), s0=st.floats(1.0, 30.0), v0=st.floats(0.0, 20.0),
    v1=st.floats(0.0, 20.0), dt=st.floats(0.1, 10.0), z_off=st.floats(-1.0, 1.0),
    s1=st.floats(1.0, 30.0),
)  # fmt: skip
def test_a_fix_weighs_in_by_inverse_variance_against_the_drive(d0, s0, v0, v1, dt, z_off, s1):
    prev = TrackEstimate(ROUTE, d0, s0, 10.0, v0)
    # Oracle, written out: the drive at the mean speed, its error the speed change spread over
    # the gap plus a random acceleration, then the precision-weighted mean.
    pred = d0 + (v0 + v1) / 2 * dt
    var_p = s0**2 + (abs(v1 - v0) * dt / 2 + TRACK_ACCEL_MPS2 * dt**2 / 4) ** 2
    z = pred + z_off * GATE_SIGMAS * math.sqrt(var_p + s1**2) * 0.999
    got = fuse(prev, ROUTE, z, s1, 10.0 + dt, v1)
    w_p, w_z = 1 / var_p, 1 / s1**2
    assert got.distance_m == pytest.approx((pred * w_p + z * w_z) / (w_p + w_z), abs=1e-6)
    assert got.sigma_m == pytest.approx(max(math.sqrt(1 / (w_p + w_z)), MIN_SIGMA_M), rel=1e-6)
    assert got.sigma_m <= min(s1, math.sqrt(var_p)) + 1e-9
    assert (got.time_s, got.speed_mps, got.route) == (10.0 + dt, v1, ROUTE)


@given(dt=st.floats(0.1, 10.0), extra=st.floats(1.001, 5.0), sign=st.sampled_from([-1, 1]))
def test_a_fix_the_drive_cannot_explain_starts_afresh(dt, extra, sign):
    prev = TrackEstimate(ROUTE, 100.0, 5.0, 0.0, 12.0)
    var_p = 25.0 + (TRACK_ACCEL_MPS2 * dt**2 / 4) ** 2
    z = 100.0 + 12.0 * dt + sign * extra * GATE_SIGMAS * math.sqrt(var_p + 15.0**2)
    got = fuse(prev, ROUTE, z, 15.0, dt, 12.0)
    assert (got.distance_m, got.sigma_m) == (z, 15.0)


def test_a_new_route_an_old_fix_or_no_estimate_start_from_the_fix():
    prev = TrackEstimate(ROUTE, 100.0, 5.0, 10.0, 12.0)
    for p, route, t in [(None, ROUTE, 11.0), (prev, ("e1", "e2"), 11.0), (prev, ROUTE, 10.0)]:
        got = fuse(p, route, 150.0, 15.0, t, 12.0)
        assert (got.distance_m, got.sigma_m, got.route) == (150.0, 15.0, tuple(route))
    with pytest.raises(ValueError, match="sigma_m"):
        fuse(prev, ROUTE, 150.0, 0.0, 11.0, 12.0)


def test_fixes_of_a_cruising_vehicle_beat_one_fix_and_stay_honest():
    """0.2 Hz fixes with 15 m error of a vehicle at 13.9 m/s: after a few, the estimate is
    better than 12 m (one fix: 15 m), and its errors are about as large as it says (simulated)."""
    rng = np.random.default_rng(7)
    errors, sigmas = [], []
    for _run in range(200):
        est = None
        for k in range(8):
            t = 5.0 * k
            truth = 13.9 * t
            est = fuse(est, ROUTE, truth + rng.normal(0.0, 15.0), 15.0, t,
                       13.9 + rng.normal(0.0, 0.3))  # fmt: skip
        errors.append(est.distance_m - truth)
        sigmas.append(est.sigma_m)
    assert max(sigmas) < 12.0
    # Honest: the spread of the errors is no wider than claimed (with sampling slack).
    assert np.std(errors) <= 1.15 * np.mean(sigmas)


def test_a_vehicle_that_changed_speed_gets_little_from_the_drive():
    """Braking from 14 to 0 m/s in 5 s: the drive may be off by 35 m, so a 15 m fix counts
    for nearly everything."""
    prev = TrackEstimate(ROUTE, 100.0, 5.0, 0.0, 14.0)
    got = fuse(prev, ROUTE, 120.0, 15.0, 5.0, 0.0)
    assert got.sigma_m > 12.0 and abs(got.distance_m - 120.0) < abs(got.distance_m - 135.0)


def test_route_distances_and_places_invert():
    net = chain()
    assert route_distance_m(net, ROUTE, 1, 30.0) == 230.0
    assert route_place(net, ROUTE, 230.0) == (1, 30.0)
    assert route_place(net, ROUTE, 200.0) == (0, 200.0)
    assert route_place(net, ROUTE, -5.0) == (0, 0.0)
    assert route_place(net, ROUTE, 900.0) == (2, 300.0)
    for d in np.linspace(0.0, 600.0, 37):
        i, off = route_place(net, ROUTE, float(d))
        assert route_distance_m(net, ROUTE, i, off) == pytest.approx(d)


def test_passages_through_junctions_count_as_driven_and_map_to_the_next_edge():
    """A 30 m passage between e0 and e1: the vehicle drives it between fixes, so distances
    count it, and a distance inside it is the start of e1 (past e0's stop line)."""
    net = chain()
    passage = Link("J1", 0, "e0_0", "e1_0", ":J1_0_0", "e0", "e1", "s", None, -1, False, 30.0, 13.9)
    net = Network(None, {}, dict(net.edges), {}, (passage,), {}, None, (0, 0, 0, 0))
    assert route_distance_m(net, ROUTE, 1, 10.0) == 240.0
    assert route_distance_m(net, ROUTE, 2, 0.0) == 330.0
    assert route_place(net, ROUTE, 200.0) == (0, 200.0)
    assert route_place(net, ROUTE, 215.0) == (1, 0.0)
    assert route_place(net, ROUTE, 240.0) == (1, 10.0)
    assert route_place(net, ROUTE, 335.0) == (2, 5.0)
