"""Safety timings per signal link: min green, yellow (ITE), red clearance, pedestrian clearance.

Computed from the network (approach speed, path length through the junction, crossing length)
and overridable per junction from a TOML file. Overrides may lengthen a timing freely but never
take it below what safety needs: a yellow below 3 s or below the ITE change interval of the
approach, an all-red below 1 s, a pedestrian clearance below crossing length / walking speed
are refused with :class:`~clearway.errors.UnsafeTimingError`.

TOML format::

    [defaults]            # optional, applies to every junction
    min_green_s = 7

    [junction."B1"]       # a traffic-light id or the id of a junction it drives
    min_green_s = 10
    yellow_s = 4.0
    all_red_s = 2.0
    ped_clearance_s = 12.0
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from clearway.errors import ConfigError, UnsafeTimingError
from clearway.network.model import Link
from clearway.signals.model import LinkTimings
from clearway.units import (
    DESIGN_VEHICLE_LENGTH_M,
    ITE_DECELERATION_MPS2,
    PEDESTRIAN_SPEED_MPS,
    PERCEPTION_REACTION_S,
)

YELLOW_MIN_S = 3.0
YELLOW_MAX_S = 6.0
ALL_RED_MIN_S = 1.0
ALL_RED_MAX_S = 6.0
DEFAULT_MIN_GREEN_S = 5.0
#: MUTCD 4E.06 allows a 4 s minimum walk where pedestrian volumes are low.
DEFAULT_MIN_WALK_S = 4.0
MIN_GREEN_FLOOR_S = 3.0

#: Upper limits of overrides: beyond these a value is almost certainly a typo.
_OVERRIDE_MAX_S = {"min_green_s": 120.0, "yellow_s": YELLOW_MAX_S, "all_red_s": 10.0, "ped_clearance_s": 90.0}
OVERRIDE_KEYS = tuple(_OVERRIDE_MAX_S)

#: Crossing length assumed when the net file does not give one (m): four lanes of 3.2 m.
_DEFAULT_CROSSING_M = 12.8
#: Path length through a junction assumed when the net has no internal lanes (m).
_DEFAULT_JUNCTION_PATH_M = 15.0


def ite_yellow_s(approach_speed_mps: float, grade: float = 0.0) -> float:
    """ITE kinematic change interval ``t + v / (2a + 2Gg)``, clamped to 3-6 s.

    Parameters
    ----------
    approach_speed_mps
        Approach speed (m/s), the posted limit where nothing better is known.
    grade
        Approach grade as a fraction (+ uphill).
    """
    v = max(approach_speed_mps, 0.0)
    raw = PERCEPTION_REACTION_S + v / (2 * ITE_DECELERATION_MPS2 + 2 * 9.81 * grade)
    return min(max(raw, YELLOW_MIN_S), YELLOW_MAX_S)


def red_clearance_s(path_m: float, approach_speed_mps: float) -> float:
    """ITE red clearance ``(W + L) / v``, clamped to 1-6 s.

    Parameters
    ----------
    path_m
        Distance from the stop line across the conflict area (m).
    approach_speed_mps
        Speed of the clearing vehicle (m/s).
    """
    w = path_m if path_m > 0 else _DEFAULT_JUNCTION_PATH_M
    v = max(approach_speed_mps, 1.0)
    return min(max((w + DESIGN_VEHICLE_LENGTH_M) / v, ALL_RED_MIN_S), ALL_RED_MAX_S)


def pedestrian_clearance_s(crossing_m: float) -> float:
    """Pedestrian clearance (flashing don't walk): crossing length / 1.07 m/s, at least 1 s."""
    length = crossing_m if crossing_m > 0 else _DEFAULT_CROSSING_M
    return max(length / PEDESTRIAN_SPEED_MPS, ALL_RED_MIN_S)


def link_timings(link: Link, min_green_s: float = DEFAULT_MIN_GREEN_S) -> LinkTimings:
    """Computed safety timings of one link (s)."""
    if link.is_crossing:
        return LinkTimings(DEFAULT_MIN_WALK_S, 0.0, pedestrian_clearance_s(link.length_m))
    return LinkTimings(
        min_green_s,
        ite_yellow_s(link.approach_speed_mps),
        red_clearance_s(link.length_m, link.approach_speed_mps),
    )


@dataclass(frozen=True, slots=True)
class TimingOverride:
    """Per-junction override values (s); ``None`` keeps the computed value."""

    min_green_s: float | None = None
    yellow_s: float | None = None
    all_red_s: float | None = None
    ped_clearance_s: float | None = None


def parse_override(values: Mapping[str, object], where: str) -> TimingOverride:
    """Validate one TOML table of override values (range checks only; see :func:`apply_override`)."""
    unknown = sorted(set(values) - set(OVERRIDE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown timing key(s) {unknown}; allowed: {list(OVERRIDE_KEYS)}")
    parsed: dict[str, float] = {}
    for key, raw in values.items():
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise ConfigError(f"{where}: {key} must be a number of seconds, got {raw!r}")
        if raw > _OVERRIDE_MAX_S[key]:
            raise UnsafeTimingError(f"{where}: {key} = {raw} s exceeds {_OVERRIDE_MAX_S[key]} s")
        parsed[key] = float(raw)
    floors = {"min_green_s": MIN_GREEN_FLOOR_S, "yellow_s": YELLOW_MIN_S, "all_red_s": ALL_RED_MIN_S}
    for key, floor in floors.items():
        if key in parsed and parsed[key] < floor:
            raise UnsafeTimingError(
                f"{where}: {key} = {parsed[key]} s is unsafe; it may not be below {floor} s"
            )
    return TimingOverride(**parsed)


def apply_override(link: Link, base: LinkTimings, override: TimingOverride, where: str) -> LinkTimings:
    """Timings of ``link`` with ``override`` applied; refuses values below the safe minimum."""
    if link.is_crossing:
        clearance = base.clearance_s
        if override.ped_clearance_s is not None:
            if override.ped_clearance_s + 1e-9 < base.clearance_s:
                raise UnsafeTimingError(
                    f"{where}: ped_clearance_s = {override.ped_clearance_s} s is shorter than the "
                    f"{base.clearance_s:.1f} s pedestrians need to cross {link.length_m:.1f} m at "
                    f"{PEDESTRIAN_SPEED_MPS} m/s"
                )
            clearance = override.ped_clearance_s
        return LinkTimings(base.min_green_s, 0.0, clearance)
    yellow = base.yellow_s
    if override.yellow_s is not None:
        if override.yellow_s + 1e-9 < base.yellow_s:
            raise UnsafeTimingError(
                f"{where}: yellow_s = {override.yellow_s} s is shorter than the ITE change interval "
                f"{base.yellow_s:.2f} s for the {link.approach_speed_mps * 3.6:.0f} km/h approach "
                f"of lane {link.from_lane}"
            )
        yellow = override.yellow_s
    return LinkTimings(
        override.min_green_s if override.min_green_s is not None else base.min_green_s,
        yellow,
        override.all_red_s if override.all_red_s is not None else base.clearance_s,
    )


def load_overrides(path: str | Path) -> tuple[TimingOverride | None, dict[str, TimingOverride]]:
    """Read a timing TOML file: (defaults or None, {junction or signal id: override})."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"timing file not found: {p}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"defaults", "junction"})
    if unknown:
        raise ConfigError(f"{p}: unknown table(s) {unknown}; use [defaults] and [junction.\"ID\"]")
    defaults = parse_override(data["defaults"], f"{p} [defaults]") if "defaults" in data else None
    per = {}
    for jid, table in dict(data.get("junction", {})).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{p}: [junction.\"{jid}\"] must be a table of timings")
        per[jid] = parse_override(table, f"{p} [junction.\"{jid}\"]")
    return defaults, per
