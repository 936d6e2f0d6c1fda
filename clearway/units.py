"""Units and physical constants. Units live in names: ``*_s``, ``*_m``, ``*_mps``, ``*_vph``."""

from __future__ import annotations

KMH_PER_MPS = 3.6

#: Perception-reaction time used by the ITE yellow-change formula (s).
PERCEPTION_REACTION_S = 1.0
#: Comfortable deceleration of the ITE formula, 10 ft/s² (m/s²).
ITE_DECELERATION_MPS2 = 3.05
#: Gravity (m/s²), for the grade term of the ITE formula.
GRAVITY_MPS2 = 9.81
#: Design vehicle length for red clearance, 20 ft (m).
DESIGN_VEHICLE_LENGTH_M = 6.1
#: Pedestrian walking speed for clearance, MUTCD 4E.06: 3.5 ft/s (m/s).
PEDESTRIAN_SPEED_MPS = 1.07


def kmh_to_mps(speed_kmh: float) -> float:
    """Convert a speed in km/h to m/s."""
    return speed_kmh / KMH_PER_MPS


def mps_to_kmh(speed_mps: float) -> float:
    """Convert a speed in m/s to km/h."""
    return speed_mps * KMH_PER_MPS
