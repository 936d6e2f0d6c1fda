"""How far along its route a priority vehicle is, from GPS fixes and the speeds they report.

One fix with 15 m of GPS error places the vehicle to ±30 m along its route (2 sigma): the
corridor must then hold a junction until 30 m behind the place is past it. But consecutive
fixes are not independent guesses: between them the vehicle drove what its reported speeds
say, which Doppler speed gives to a few tenths of a m/s. :func:`fuse` is a one-dimensional
Kalman filter on the distance along the route: the last estimate driven on at the mean of
the two reported speeds, weighed against the new fix. What the drive may be off by is
bounded honestly — a speed that changed between the fixes may have changed at any moment
(half the change times the gap) plus a random acceleration — so a vehicle braking or
starting gets little from the prediction and one cruising gets much. A fix the prediction
cannot explain (beyond :data:`GATE_SIGMAS`) starts the estimate afresh from the fix.
Pure; distances in m along the route's edges (their lengths, as the ETAs count them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from clearway.network.model import Network

#: Random acceleration of a vehicle between two fixes, 1 sigma (m/s²): what the drive at the
#: mean reported speed may be off by beyond a change of speed the two fixes show.
TRACK_ACCEL_MPS2 = 1.5
#: A fix farther from the prediction than this many sigmas of both starts afresh.
GATE_SIGMAS = 3.0
#: No estimate claims to be better than this (m, 1 sigma): lane offsets and map rounding.
MIN_SIGMA_M = 1.0


@dataclass(frozen=True, slots=True)
class TrackEstimate:
    """Where along its route a vehicle was at a time.

    Attributes
    ----------
    route
        The route the distance is measured on (a new route starts a new estimate).
    distance_m, sigma_m
        Distance from the start of the route's first edge (m) and its 1-sigma error (m).
    time_s, speed_mps
        When (s), and the speed the fix reported (m/s).
    """

    route: tuple[str, ...]
    distance_m: float
    sigma_m: float
    time_s: float
    speed_mps: float


def fuse(
    previous: TrackEstimate | None,
    route: Sequence[str],
    measured_m: float,
    sigma_m: float,
    time_s: float,
    speed_mps: float,
) -> TrackEstimate:
    """The estimate after a fix measured at ``measured_m`` along ``route`` (1 sigma
    ``sigma_m``) at ``time_s`` with reported speed ``speed_mps``.

    Starts from the fix alone when there is no previous estimate on the same route, when the
    fix is not newer, or when it lies beyond :data:`GATE_SIGMAS` of the prediction.

    Raises
    ------
    ValueError
        If ``sigma_m`` is not a positive distance.
    """
    if not sigma_m > 0.0:
        raise ValueError(f"a fix's sigma_m must be a positive distance (m), got {sigma_m}")
    route = tuple(route)
    fresh = TrackEstimate(route, measured_m, max(sigma_m, MIN_SIGMA_M), time_s, speed_mps)
    if previous is None or previous.route != route or not time_s > previous.time_s:
        return fresh
    dt = time_s - previous.time_s
    predicted_m = previous.distance_m + 0.5 * (previous.speed_mps + speed_mps) * dt
    drive_sigma_m = drive_error_m(previous.speed_mps, speed_mps, dt)
    var_pred = previous.sigma_m**2 + drive_sigma_m**2
    var_fix = sigma_m**2
    innovation = measured_m - predicted_m
    if abs(innovation) > GATE_SIGMAS * math.sqrt(var_pred + var_fix):
        return fresh
    gain = var_pred / (var_pred + var_fix)
    sigma = max(math.sqrt((1.0 - gain) * var_pred), MIN_SIGMA_M)
    return TrackEstimate(route, predicted_m + gain * innovation, sigma, time_s, speed_mps)


def drive_error_m(speed0_mps: float, speed1_mps: float, dt_s: float) -> float:
    """What driving ``dt_s`` at the mean of two reported speeds may be off by (m): the speed
    may have changed anywhere in between (half the change times the gap: the most a monotone
    change moves the distance from the trapezoid's) plus a random acceleration of
    :data:`TRACK_ACCEL_MPS2` (its distance error a quarter of a·dt²)."""
    return 0.5 * abs(speed1_mps - speed0_mps) * dt_s + TRACK_ACCEL_MPS2 * dt_s**2 / 4.0


def edge_starts_m(net: Network, route: Sequence[str]) -> list[float]:
    """Where each edge of ``route`` starts, driven from the start of its first (m): edge
    lengths and the passages through the junctions between them (a large cluster's is tens of
    metres, which the vehicle drives between two fixes like any road)."""
    starts, d = [], 0.0
    for i, edge_id in enumerate(route):
        starts.append(d)
        d += net.edge(edge_id).length_m
        if i + 1 < len(route):
            d += _passage_m(net, edge_id, route[i + 1])
    return starts


def _passage_m(net: Network, from_edge: str, to_edge: str) -> float:
    lengths = [
        lk.length_m for lk in net.links if (lk.from_edge, lk.to_edge) == (from_edge, to_edge)
    ]
    return max(lengths, default=0.0)


def route_distance_m(
    net: Network,
    route: Sequence[str],
    index: int,
    offset_m: float,
    starts_m: Sequence[float] | None = None,
) -> float:
    """Distance driven from the start of ``route[0]`` to ``offset_m`` along ``route[index]``
    (m; passages through junctions included). ``starts_m``: :func:`edge_starts_m` of the
    route, if known (it scans the network's links)."""
    starts = edge_starts_m(net, route) if starts_m is None else starts_m
    return starts[index] + offset_m


def route_place(
    net: Network,
    route: Sequence[str],
    distance_m: float,
    starts_m: Sequence[float] | None = None,
) -> tuple[int, float]:
    """(edge index, offset m) ``distance_m`` driven along ``route``, clamped to its ends; in a
    passage through a junction, the start of the edge after it (past the stop line)."""
    if not route:
        raise ValueError("a route needs at least one edge")
    starts = edge_starts_m(net, route) if starts_m is None else starts_m
    d = max(distance_m, 0.0)
    for i, start_m in enumerate(starts):
        if d < start_m:
            return i, 0.0  # in the passage before this edge
        length = net.edge(route[i]).length_m
        if d <= start_m + length or i == len(route) - 1:
            return i, min(d - start_m, length)
    raise AssertionError("unreachable: the last edge takes any distance")
