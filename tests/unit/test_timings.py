"""Safety timings: ITE yellow, red clearance, pedestrian clearance, and per-junction overrides."""

from __future__ import annotations

import pytest

from clearway.errors import ConfigError, UnsafeTimingError
from clearway.network.model import Link
from clearway.signals.model import LinkTimings
from clearway.signals.timings import (
    TimingOverride,
    apply_override,
    ite_yellow_s,
    link_timings,
    load_overrides,
    pedestrian_clearance_s,
    red_clearance_s,
)


def link(speed_mps: float = 13.89, length_m: float = 20.0, crossing: bool = False) -> Link:
    return Link("J", 0, "a_0", "b_0", ":J_0_0", "a", "b", "s", "J", 0, crossing, length_m, speed_mps)


@pytest.mark.parametrize(
    "speed_kmh, expected_s",
    [(30, 3.0), (50, 1.0 + 13.889 / 6.1), (70, 1.0 + 19.444 / 6.1), (100, 1.0 + 27.778 / 6.1), (130, 6.0)],
)
def test_ite_yellow_follows_the_kinematic_formula_clamped_to_3_6_s(speed_kmh, expected_s):
    assert ite_yellow_s(speed_kmh / 3.6) == pytest.approx(expected_s, abs=0.01)


def test_red_clearance_is_path_plus_vehicle_over_speed_clamped():
    assert red_clearance_s(20.0, 13.89) == pytest.approx((20 + 6.1) / 13.89)
    assert red_clearance_s(1.0, 30.0) == 1.0  # never below 1 s
    assert red_clearance_s(200.0, 5.0) == 6.0


def test_pedestrian_clearance_uses_mutcd_walking_speed():
    assert pedestrian_clearance_s(10.7) == pytest.approx(10.0)


def test_crossings_get_walk_and_pedestrian_clearance_not_yellow():
    t = link_timings(link(crossing=True, length_m=8.0))
    assert t.yellow_s == 0.0 and t.clearance_s == pytest.approx(8.0 / 1.07)


def test_override_may_lengthen_timings():
    base = link_timings(link())
    t = apply_override(link(), base, TimingOverride(min_green_s=10, yellow_s=5, all_red_s=3), "x")
    assert t == LinkTimings(10.0, 5.0, 3.0)


@pytest.mark.parametrize(
    "override, message",
    [
        (TimingOverride(yellow_s=3.2), "shorter than the ITE change interval"),
        (TimingOverride(ped_clearance_s=2.0), "pedestrians need"),
    ],
)
def test_override_below_the_safe_minimum_is_refused(override, message):
    lk = link(crossing=override.ped_clearance_s is not None)
    with pytest.raises(UnsafeTimingError, match=message):
        apply_override(lk, link_timings(lk), override, "[junction.J]")


@pytest.mark.parametrize(
    "body, error, message",
    [
        ('[junction."J"]\nyellow_s = 2.5\n', UnsafeTimingError, "may not be below 3.0 s"),
        ('[junction."J"]\nall_red_s = 0.5\n', UnsafeTimingError, "may not be below 1.0 s"),
        ('[junction."J"]\nmin_green_s = 1\n', UnsafeTimingError, "may not be below 3.0 s"),
        ('[junction."J"]\nyellow_s = 9\n', UnsafeTimingError, "exceeds"),
        ('[junction."J"]\nyelow_s = 4\n', ConfigError, "unknown timing key"),
        ('[junction."J"]\nyellow_s = "4"\n', ConfigError, "must be a number"),
        ("[defaults\n", ConfigError, "not valid TOML"),
        ("[extra]\n", ConfigError, "unknown table"),
    ],
)
def test_bad_override_files_are_refused_with_a_clear_message(tmp_path, body, error, message):
    p = tmp_path / "timings.toml"
    p.write_text(body)
    with pytest.raises(error, match=message):
        load_overrides(p)


def test_override_file_is_read(tmp_path):
    p = tmp_path / "timings.toml"
    p.write_text('[defaults]\nmin_green_s = 7\n[junction."B1"]\nyellow_s = 4.5\nall_red_s = 2\n')
    defaults, per = load_overrides(p)
    assert defaults == TimingOverride(min_green_s=7.0)
    assert per == {"B1": TimingOverride(yellow_s=4.5, all_red_s=2.0)}


def test_missing_override_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_overrides(tmp_path / "nope.toml")
