"""The AVL emulator: what a real unit reports, on a straight road with an exactly known truth."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.control.priority.request import EdgePlace, PositionUpdate, XYPlace
from clearway.errors import ConfigError
from clearway.network.model import Edge, Lane, Network
from clearway.sim.avl import AvlFeed, AvlSettings, place_pose

ROAD_M = 100_000.0
SPEED_MPS = 10.0


def straight_road(angle_deg: float = 90.0) -> Network:
    """One long edge whose lane runs from the origin at ``angle_deg`` clockwise from north."""
    a = math.radians(angle_deg)
    end = (ROAD_M * math.sin(a), ROAD_M * math.cos(a))
    lane = Lane("e0_0", "e0", 0, ROAD_M, 30.0, 3.2, frozenset({"emergency"}), ((0.0, 0.0), end))
    edge = Edge("e0", "J0", "J1", ("e0_0",), ROAD_M, 30.0)
    return Network(None, {}, {"e0": edge}, {"e0_0": lane}, (), {}, None, (0, 0, 0, 0))


@dataclass
class Clock:
    t_s: float = 0.0

    def now_s(self) -> float:
        return self.t_s

    def advance(self, dt_s: float) -> None:
        self.t_s += dt_s


@dataclass
class DrivingFeed:
    """Exact positions of vehicles driving along e0 at SPEED_MPS from their start times."""

    clock: Clock
    starts_s: dict[str, float] = field(default_factory=lambda: {"AMB": 0.0})
    gone_from_s: float = math.inf

    def priority_positions(self) -> Mapping[str, PositionUpdate]:
        now = self.clock.now_s()
        if now >= self.gone_from_s:
            return {}
        return {
            vid: PositionUpdate(
                time_s=now, place=EdgePlace(edge_id="e0", offset_m=SPEED_MPS * (now - t0)),
                speed_mps=SPEED_MPS, heading_deg=None,
            )
            for vid, t0 in self.starts_s.items()
            if now >= t0
        }  # fmt: skip


def true_x(update: PositionUpdate, start_s: float = 0.0) -> float:
    return SPEED_MPS * (update.time_s - start_s)


def run(avl: AvlSettings, duration_s: float, *, seed: int = 1, step_s: float = 1.0,
        net: Network | None = None, feed: DrivingFeed | None = None):  # fmt: skip
    """Poll the emulator every ``step_s`` for ``duration_s``: (now, visible update) per poll
    and every distinct report delivered, in order."""
    clock = Clock() if feed is None else feed.clock
    exact = feed or DrivingFeed(clock)
    emulator = AvlFeed(exact, clock, net or straight_road(), avl, seed=seed)
    polls, delivered = [], []
    while clock.t_s <= duration_s:
        seen = emulator.priority_positions().get("AMB")
        polls.append((clock.t_s, seen))
        if seen is not None and (not delivered or delivered[-1] is not seen):
            delivered.append(seen)
        clock.advance(step_s)
    return emulator, polls, delivered


def test_same_seed_same_reports_other_seed_other_reports():
    avl = AvlSettings(sigma_m=15.0, rate_hz=0.2, latency_s=3.0, drop=0.2)
    _, _, a = run(avl, 600.0, seed=7)
    _, _, b = run(avl, 600.0, seed=7)
    _, _, c = run(avl, 600.0, seed=8)
    assert a == b
    assert [u.place for u in a] != [u.place for u in c]


def test_a_vehicle_draws_the_same_errors_whoever_else_is_on_the_road():
    """Paired runs: the k-th report of a vehicle has the same error however many other
    priority vehicles the emulator follows."""
    avl = AvlSettings(sigma_m=10.0, rate_hz=1.0)
    clock_a, clock_b = Clock(), Clock()
    alone = DrivingFeed(clock_a, {"AMB": 0.0})
    crowded = DrivingFeed(clock_b, {"POL": 0.0, "AMB": 0.0, "FIRE": 2.0})
    _, _, a = run(avl, 100.0, feed=alone)
    _, _, b = run(avl, 100.0, feed=crowded)
    assert a == b


def test_reports_come_at_the_rate():
    _, _, delivered = run(AvlSettings(rate_hz=0.2), 1000.0)
    times = [u.time_s for u in delivered]
    assert len(times) in (200, 201)
    assert set(np.diff(times)) == {5.0}


def test_a_rate_above_the_polling_rate_reports_every_poll():
    _, _, delivered = run(AvlSettings(rate_hz=10.0), 100.0)
    # The unit's first report comes within a period of the vehicle's start: the next poll.
    assert [u.time_s for u in delivered] == [float(t) for t in range(1, 101)]


def test_latency_a_report_arrives_latency_after_it_was_measured_with_its_measuring_time():
    _, polls, delivered = run(AvlSettings(rate_hz=1.0, latency_s=3.0), 60.0)
    first_s = delivered[0].time_s
    assert first_s <= 1.0  # within a period of the start
    for now, seen in polls:
        if now < first_s + 3.0:
            assert seen is None
        else:
            assert seen is not None and seen.time_s == now - 3.0
            # The place is where the vehicle was when measured, not where it is now.
            assert seen.place.x_m == pytest.approx(true_x(seen))
    assert len(delivered) == 58 - first_s


def test_lost_reports_share_is_the_drop_probability():
    emulator, _, delivered = run(AvlSettings(rate_hz=1.0, drop=0.2), 5_000.0)
    assert emulator.sampled == 5_000  # one a second from the first poll after its phase
    # Binomial: sd of the share is 0.0057 at n = 5,000; 0.02 is 3.5 sd.
    assert emulator.dropped / emulator.sampled == pytest.approx(0.2, abs=0.02)
    assert len(delivered) == emulator.sampled - emulator.dropped


def test_position_error_has_the_given_sigma_on_each_axis_and_no_bias():
    sigma = 15.0
    _, _, delivered = run(AvlSettings(sigma_m=sigma, rate_hz=1.0), 5_000.0)
    dx = np.array([u.place.x_m - true_x(u) for u in delivered])
    dy = np.array([u.place.y_m for u in delivered])
    # sd of a sample sd is sigma / sqrt(2n) = 1 % here; of the mean sigma / sqrt(n) = 0.2 m.
    for err in (dx, dy):
        assert err.std() == pytest.approx(sigma, rel=0.04)
        assert abs(err.mean()) < 0.8
    assert np.corrcoef(dx, dy)[0, 1] == pytest.approx(0.0, abs=0.05)
    assert {u.accuracy_m for u in delivered} == {sigma}


def test_heading_is_the_road_direction_with_a_few_degrees_of_noise_and_speed_nearly_true():
    _, _, delivered = run(AvlSettings(rate_hz=1.0), 5_000.0, net=straight_road(angle_deg=30.0))
    heading = np.array([u.heading_deg for u in delivered])
    wrapped = (heading - 30.0 + 180.0) % 360.0 - 180.0
    assert abs(wrapped.mean()) < 0.5
    assert wrapped.std() == pytest.approx(3.0, rel=0.1)
    speed = np.array([u.speed_mps for u in delivered])
    assert speed.mean() == pytest.approx(SPEED_MPS, abs=0.05)
    assert speed.std() == pytest.approx(0.3, rel=0.1)


def test_an_exact_unit_reports_the_true_lane_point_without_accuracy():
    _, _, delivered = run(AvlSettings(heading_sigma_deg=0.0, speed_sigma_mps=0.0), 10.0)
    for u in delivered:
        assert isinstance(u.place, XYPlace)
        assert (u.place.x_m, u.place.y_m) == pytest.approx((true_x(u), 0.0))
        assert u.accuracy_m is None and u.heading_deg == pytest.approx(90.0)


def test_a_vehicle_that_left_is_reported_until_its_last_reports_have_arrived():
    clock = Clock()
    feed = DrivingFeed(clock, gone_from_s=20.0)
    _, polls, _ = run(AvlSettings(rate_hz=1.0, latency_s=4.0), 40.0, feed=feed)
    seen = {now: u for now, u in polls}
    assert seen[23.0] is not None and seen[23.0].time_s == 19.0
    assert all(seen[t] is None for t in seen if t >= 24.0)


def test_place_pose_follows_a_bent_lane():
    lane = Lane("e_0", "e", 0, 200.0, 10.0, 3.2, frozenset(), ((0, 0), (100, 0), (100, 100)))
    net = Network(None, {}, {"e": Edge("e", "A", "B", ("e_0",), 200.0, 10.0)}, {"e_0": lane},
                  (), {}, None, (0, 0, 0, 0))  # fmt: skip
    assert place_pose(net, "e", 50.0) == ((50.0, 0.0), pytest.approx(90.0))
    assert place_pose(net, "e", 150.0) == ((100.0, 50.0), pytest.approx(0.0))


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [({"sigma_m": -1.0}, "--avl-sigma-m"), ({"rate_hz": 0.0}, "--avl-rate-hz"),
     ({"latency_s": math.nan}, "--avl-latency-s"), ({"drop": 1.0}, "--avl-drop")],
)  # fmt: skip
def test_bad_settings_are_refused_naming_the_option(kwargs, flag):
    with pytest.raises(ConfigError, match=flag):
        AvlSettings(**kwargs)


def test_from_options_is_the_exact_feed_when_none_is_given():
    assert AvlSettings.from_options() is None
    assert AvlSettings.from_options(rate_hz=0.2) == AvlSettings(rate_hz=0.2)


@settings(max_examples=60, deadline=None)
@given(
    rate_hz=st.floats(0.05, 5.0),
    latency_s=st.floats(0.0, 12.0),
    drop=st.floats(0.0, 0.9),
    step_s=st.sampled_from([0.1, 0.5, 1.0, 2.0]),
    seed=st.integers(0, 2**31),
)
def test_a_report_is_never_visible_before_its_time_plus_latency(rate_hz, latency_s, drop, step_s, seed):
    avl = AvlSettings(sigma_m=5.0, rate_hz=rate_hz, latency_s=latency_s, drop=drop)
    _, polls, delivered = run(avl, 120.0, seed=seed, step_s=step_s)
    for now, seen in polls:
        if seen is not None:
            assert now - seen.time_s >= latency_s - 1e-6
            assert seen.time_s <= now
    times = [u.time_s for u in delivered]
    assert times == sorted(set(times))  # newest last, never the same report twice
    # Consecutive reports are a period apart or more (a poll can be late, never early),
    # or a poll apart when the unit reports faster than it is read.
    gap_s = min(1.0 / rate_hz, step_s) - 1e-6
    assert all(b - a >= gap_s for a, b in zip(times, times[1:], strict=False))


def test_an_on_road_unit_reports_the_true_edge_place_late_and_refuses_gps_error():
    _, polls, delivered = run(AvlSettings(rate_hz=1.0, latency_s=2.0, on_road=True), 30.0)
    for u in delivered:
        assert isinstance(u.place, EdgePlace) and u.place.edge_id == "e0"
        assert u.place.offset_m == pytest.approx(true_x(u))
    assert all(now - u.time_s == 2.0 for now, u in polls if u is not None)
    with pytest.raises(ConfigError, match="sigma_m 0"):
        AvlSettings(sigma_m=5.0, on_road=True)
