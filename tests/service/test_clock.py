"""The traffic clock (traffic time <-> UTC), the judgement of a sample's time, and the
parsing of UTC time stamps as the field sends them: against hand-worked values."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearway.errors import ConfigError
from clearway.service.clock import FIELD_CLOCK, SampleTimeError, TrafficClock, check_sample_time
from clearway.service.schemas import unix_seconds

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC).timestamp()


def test_field_clock_is_unix_seconds():
    assert FIELD_CLOCK.to_traffic_s(T0) == T0 and FIELD_CLOCK.to_utc_s(T0 + 0.5) == T0 + 0.5


def test_twin_clock_runs_at_its_speed_from_its_anchor():
    clock = TrafficClock.anchored(traffic_s=100.0, utc_s=T0, speed=50.0)
    assert clock.epoch_utc_s == T0 - 2.0
    assert clock.to_traffic_s(T0 + 1.0) == pytest.approx(150.0)
    assert clock.to_utc_s(0.0) == pytest.approx(T0 - 2.0)


@given(
    st.floats(0, 1e6), st.floats(1e9, 2e9), st.floats(0.01, 1000), st.floats(-1e5, 1e5)
)
def test_the_two_directions_are_inverse(traffic_s, utc_s, speed, dt_s):
    clock = TrafficClock.anchored(traffic_s, utc_s, speed)
    assert clock.to_traffic_s(clock.to_utc_s(traffic_s + dt_s)) == pytest.approx(
        traffic_s + dt_s, abs=1e-6 * max(1.0, speed)
    )


@pytest.mark.parametrize("speed", [0.0, -1.0, math.inf, math.nan])
def test_a_clock_needs_a_positive_speed(speed):
    with pytest.raises(ConfigError, match="speed > 0"):
        TrafficClock(0.0, speed)


def _check(age_s: float, clock: TrafficClock = FIELD_CLOCK) -> float:
    return check_sample_time(
        T0 - age_s, T0, max_age_s=10.0, tolerance_s=2.0, clock=clock
    )


def test_a_sample_in_the_window_keeps_its_own_time():
    assert _check(9.5) == T0 - 9.5
    assert _check(-1.5) == T0 + 1.5  # a little ahead: the sender's clock error


def test_too_old_names_its_time_now_and_the_limit():
    with pytest.raises(SampleTimeError) as exc:
        _check(10.5)
    msg = str(exc.value)
    assert "2026-12-07T09:59:49.500Z" in msg and "now 2026-12-07T10:00:00.000Z" in msg
    assert "10.500 s old" in msg and "limit of 10 s" in msg and "MAX_POSITION_AGE" in msg


def test_from_the_future_names_its_time_now_and_the_tolerance():
    with pytest.raises(SampleTimeError, match=r"2\.500 s in the future.*tolerance of 2 s"):
        _check(-2.5)


def test_before_the_twin_started():
    clock = TrafficClock.anchored(traffic_s=3.0, utc_s=T0, speed=1.0)  # started 3 s ago
    assert _check(2.0, clock) == pytest.approx(1.0)
    with pytest.raises(SampleTimeError, match="before traffic time 0"):
        _check(5.0, clock)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-07T10:00:00.5Z", T0 + 0.5),
        ("2026-12-07t10:00:00z", T0),
        ("2026-12-07 11:00:00+01:00", T0),
        ("2026-12-07T05:30:00.25-04:30", T0 + 0.25),
        ("2026-12-07T09:59:60Z", T0),  # a leap second
        (T0 + 0.125, T0 + 0.125),
        (int(T0), T0),
    ],
)
def test_timestamps_rfc3339_or_unix_seconds(text, expected):
    assert unix_seconds(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "bad", ["2026-12-07T10:00:00", "2026-12-07", "1796637600", "tomorrow", True, None, math.inf]
)
def test_timestamps_without_an_offset_or_malformed_are_refused(bad):
    with pytest.raises(ValueError, match="timestamp"):
        unix_seconds(bad)
