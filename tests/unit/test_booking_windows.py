"""Planned convoys' hold windows, conflicts between bookings and demand peaks
(:mod:`clearway.control.priority.booking_windows`), without SUMO."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.control.priority.booking_windows import (
    DAY_S,
    BookedPassage,
    BookingWindowError,
    HoldWindow,
    PeakPeriod,
    RouteSignal,
    check_window,
    find_conflicts,
    held_vehicles,
    hold_windows,
    parse_peak_table,
    peaks_hit,
)
from clearway.errors import ConfigError


# -- hold windows -------------------------------------------------------------------------------
def test_hold_window_spans_earliest_arrival_less_lead_to_latest_tail_plus_trail():
    # 10 m/s, 50 m long: passes a point in 5 s; signal B 300 m along: 30 s after departure at
    # cruise speed, 25 s at the roads' limits.
    (a, b) = hold_windows(
        [RouteSignal("A", 100.0, "e1", 10.0), RouteSignal("B", 300.0, "e2", 25.0)],
        start_s=1000.0, end_s=1060.0, speed_mps=10.0, length_m=50.0,
        clearance_s={"A": (12.0, 4.0), "B": (9.0, 3.0)},
    )  # fmt: skip
    # the tail: up to 1.25 x the cruise travel and passing time late
    assert (a.signal_id, a.from_s, a.to_s) == ("A", 1000 + 10 - 12, 1060 + 1.25 * (10 + 5) + 4)
    assert (b.signal_id, b.from_s, b.to_s) == ("B", 1000 + 25 - 9, 1060 + 1.25 * (30 + 5) + 3)
    assert b.hold_s == pytest.approx(60 + 1.25 * 35 - 25 + 9 + 3)
    on_time = hold_windows(
        [RouteSignal("B", 300.0, "e2", 25.0)], start_s=1000.0, end_s=1060.0, speed_mps=10.0,
        length_m=50.0, clearance_s={}, late_factor=1.0,
    )[0]  # fmt: skip
    assert on_time.to_s == pytest.approx(1060 + 30 + 5)


def test_a_longer_or_slower_convoy_holds_longer():
    base = {"start_s": 0.0, "end_s": 0.0, "clearance_s": {}}
    sig = [RouteSignal("A", 200.0, "e", 20.0)]
    short = hold_windows(sig, speed_mps=10.0, length_m=20.0, **base)[0]
    long = hold_windows(sig, speed_mps=10.0, length_m=200.0, **base)[0]
    slow = hold_windows([RouteSignal("A", 200.0, "e", 40.0)], speed_mps=5.0, length_m=20.0, **base)[
        0
    ]
    assert long.hold_s == pytest.approx(short.hold_s + 1.25 * 18.0)
    assert slow.from_s == pytest.approx(40.0) and slow.hold_s == pytest.approx(1.25 * 44 - 40)


# -- conflicts ---------------------------------------------------------------------------------
def _w(sid: str, a: float, b: float) -> HoldWindow:
    return HoldWindow(sid, 0.0, a, b)


def test_conflict_needs_the_same_signal_and_overlapping_times():
    other = BookedPassage("bk-1", (_w("A", 100, 200), _w("B", 150, 250)))
    assert find_conflicts([_w("C", 100, 200)], [other]) == []  # no shared signal
    assert find_conflicts([_w("A", 200, 300)], [other]) == []  # touching is not overlapping
    assert find_conflicts([_w("A", 0, 100)], [other]) == []
    (c,) = find_conflicts([_w("A", 199, 300)], [other])
    assert c.booking_id == "bk-1" and c.ours.signal_id == c.theirs.signal_id == "A"
    both = find_conflicts([_w("A", 120, 130), _w("B", 240, 260)], [other])
    assert [(c.booking_id, c.theirs.signal_id) for c in both] == [("bk-1", "A"), ("bk-1", "B")]


_SIGNALS = st.sampled_from(["A", "B", "C", "D"])
_WINDOW = st.tuples(_SIGNALS, st.integers(0, 60), st.integers(1, 20)).map(
    lambda t: _w(t[0], float(t[1]), float(t[1] + t[2]))
)


def _oracle(ours: list[HoldWindow], theirs: list[HoldWindow]) -> set[tuple[str, int, int]]:
    """Brute force: (signal, our index, their index) wherever some moment strictly inside
    both windows exists. Integer end points: it is enough to try every half second."""
    found = set()
    for i, w in enumerate(ours):
        for j, x in enumerate(theirs):
            if w.signal_id != x.signal_id:
                continue
            moments = (k / 2 for k in range(0, 2 * 81 + 1))
            if any(w.from_s < t < w.to_s and x.from_s < t < x.to_s for t in moments):
                found.add((w.signal_id, i, j))
    return found


@settings(max_examples=300, deadline=None)
@given(st.lists(_WINDOW, max_size=6), st.lists(_WINDOW, max_size=6))
def test_two_bookings_conflict_iff_a_shared_signal_has_overlapping_windows(ours, theirs):
    got = find_conflicts(ours, [BookedPassage("other", tuple(theirs))])
    found = {(c.ours.signal_id, ours.index(c.ours), theirs.index(c.theirs)) for c in got}
    # (index() finds the first equal window; the oracle's duplicates collapse the same way)
    expected = {
        (sid, ours.index(ours[i]), theirs.index(theirs[j])) for sid, i, j in _oracle(ours, theirs)
    }
    assert found == expected
    assert bool(got) == bool(expected)
    assert all(c.booking_id == "other" for c in got)


# -- windows that cannot be booked ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (200.0, 100.0, "before it starts"),
        (50.0, 100.0, "in the past"),
        (200.0, 200.0 + 3601.0, "longer than"),
        (100.0 + 86_401.0, 100.0 + 86_402.0, "ahead"),
    ],
)
def test_unbookable_windows_are_refused_with_the_reason(start, end, words):
    with pytest.raises(BookingWindowError, match=words):
        check_window(start, end, now_s=100.0)


def test_bookable_windows_pass():
    check_window(100.0, 100.0, now_s=100.0)  # leaves now, on the dot
    check_window(200.0, 200.0 + 3600.0, now_s=100.0)


# -- peaks ---------------------------------------------------------------------------------------
def test_peak_table_parses_and_refuses_bad_entries():
    peaks = parse_peak_table(" 07:00-09:00, B1@16:30-18:30 ,23:00-01:00")
    assert peaks == (
        PeakPeriod(7 * 3600.0, 9 * 3600.0),
        PeakPeriod(16.5 * 3600.0, 18.5 * 3600.0, "B1"),
        PeakPeriod(23 * 3600.0, 3600.0),
    )
    assert [p.label for p in peaks] == ["07:00-09:00", "16:30-18:30@B1", "23:00-01:00"]
    assert parse_peak_table("") == ()
    for bad in ("7-9", "07:00-07:00", "25:00-26:00", "07:70-08:00", "07:00"):
        with pytest.raises(ConfigError):
            parse_peak_table(bad)


def test_windows_in_a_peak_on_any_day_are_flagged():
    rush, evening_b1, night = parse_peak_table("07:00-09:00,B1@16:30-18:30,23:00-01:00")
    peaks = [rush, evening_b1, night]
    day3 = 3 * DAY_S
    assert peaks_hit(_w("A", day3 + 8 * 3600, day3 + 8 * 3600 + 60), peaks) == [rush]
    assert peaks_hit(_w("A", day3 + 10 * 3600, day3 + 11 * 3600), peaks) == []
    assert peaks_hit(_w("A", day3 + 17 * 3600, day3 + 17 * 3600 + 60), peaks) == []  # not B1
    assert peaks_hit(_w("B1", day3 + 17 * 3600, day3 + 17 * 3600 + 60), peaks) == [evening_b1]
    # past midnight, and touching a peak's end only
    assert peaks_hit(_w("A", day3 + 0.5 * 3600, day3 + 0.6 * 3600), peaks) == [night]
    assert peaks_hit(_w("A", day3 + 9 * 3600, day3 + 10 * 3600), peaks) == []
    # on the twin: simulated seconds from midnight of day 0
    assert peaks_hit(_w("A", 7 * 3600 - 30, 7 * 3600 + 30), peaks) == [rush]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 3 * 86_400), st.integers(1, 4000),
    st.integers(0, 23 * 60), st.integers(1, 23 * 60),
)  # fmt: skip
def test_peak_hit_matches_a_minute_by_minute_oracle(start_s, length_s, peak_min, peak_len_min):
    a, b = peak_min * 60.0, ((peak_min + peak_len_min) % 1440) * 60.0
    peak = PeakPeriod(a, b)
    window = _w("A", float(start_s), float(start_s + length_s))
    in_peak = lambda t: (t - a) % DAY_S < peak_len_min * 60.0  # noqa: E731
    # every half second strictly inside the window (integer end points, minute peaks)
    moments = (start_s + k / 2 for k in range(1, 2 * length_s))
    assert bool(peaks_hit(window, [peak])) == any(in_peak(t) for t in moments)


def test_held_vehicles_is_flow_times_hold():
    assert held_vehicles(720.0, 50.0) == pytest.approx(10.0)
    assert held_vehicles(-5.0, 50.0) == 0.0


# -- the route's signals ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    from clearway.network import load_network
    from tests.fakes.networks import netgenerate_grid

    return load_network(netgenerate_grid(tmp_path_factory.mktemp("bw") / "g.net.xml", 3))


@pytest.mark.sumo
def test_route_signals_have_distance_and_the_soonest_arrival(grid):
    from clearway.control.priority.booking_windows import route_signals
    from clearway.control.priority.corridor import signal_of_junction

    route = ["A0A1", "A1B1", "B1C1"]
    lengths = [grid.edge(e).length_m for e in route]
    limits = [grid.edge(e).speed_mps for e in route]
    slow = route_signals(grid, route, signal_of_junction(grid), 5.0, origin_offset_m=20.0)
    assert [(s.signal_id, s.approach_edge) for s in slow] == [("A1", "A0A1"), ("B1", "A1B1")]
    assert slow[0].distance_m == pytest.approx(lengths[0] - 20.0)
    assert slow[1].distance_m == pytest.approx(lengths[0] - 20.0 + lengths[1])
    # slower than the limit: the soonest arrival is at the limit (the corridor plans so)
    assert slow[1].fast_s == pytest.approx((lengths[0] - 20.0) / limits[0] + lengths[1] / limits[1])
    fast = route_signals(grid, route, signal_of_junction(grid), 30.0)  # above the limit
    assert fast[1].fast_s == pytest.approx((lengths[0] + lengths[1]) / 30.0)


def test_a_queue_ahead_leads_its_signal_and_every_one_after_it():
    sigs = [
        RouteSignal(sid, d, "e", d / 10.0) for sid, d in (("A", 100.0), ("B", 200.0), ("C", 300.0))
    ]
    kw = {"start_s": 0.0, "end_s": 0.0, "speed_mps": 10.0, "length_m": 10.0, "late_factor": 1.0}
    clear = {"A": (10.0, 2.0), "B": (10.0, 2.0), "C": (30.0, 2.0)}
    plain = hold_windows(sigs, clearance_s=clear, **kw)
    queued = hold_windows(sigs, clearance_s=clear, queue_s={"A": 15.0}, **kw)
    assert [w.from_s for w in plain] == [10 - 10, 20 - 10, 30 - 30]
    # A's queue (15 s) leads A and B by 10 + 15 s; C's own lead (30 s) is longer still
    assert [w.from_s for w in queued] == [10 - 25, 20 - 25, 30 - 30]
    assert [w.to_s for w in queued] == [w.to_s for w in plain]
    # a queue at B only: A keeps its own lead
    at_b = hold_windows(sigs, clearance_s=clear, queue_s={"B": 15.0}, **kw)
    assert [w.from_s for w in at_b] == [10 - 10, 20 - 25, 30 - 30]
