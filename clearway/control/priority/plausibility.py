"""Is a reported position of a priority vehicle physically possible?

A position is a claim, and a wrong one is costly: a GPS glitch that puts an ambulance 2 km
away would re-plan its corridor through another district and stop traffic there for nothing;
a sender that makes positions up can hold junctions it never reaches. A sample is refused
when the vehicle would have had to move faster than any emergency vehicle does to get there
from where it was last (straight-line distance, which is never more than the road distance,
so a possible trip is never refused), or when it reports such a speed itself. A refused
sample renews no lease: a request fed only implausible positions expires.
"""

from __future__ import annotations

import math

from clearway.network.geometry import edge_point
from clearway.network.model import Network, Point

#: No emergency vehicle in a city is faster (m/s; 200 km/h).
MAX_PLAUSIBLE_SPEED_MPS = 55.6
#: Emergency vehicles drive up to this multiple of the fastest speed limit of the network
#: (and at least :data:`MIN_PLAUSIBLE_SPEED_MPS`): the speed positions are judged against.
SPEED_LIMIT_FACTOR = 1.5
MIN_PLAUSIBLE_SPEED_MPS = 25.0


def plausible_speed_mps(net: Network) -> float:
    """The fastest a priority vehicle plausibly drives on ``net`` (m/s)."""
    fastest = max((e.speed_mps for e in net.edges.values() if e.is_normal), default=0.0)
    return min(MAX_PLAUSIBLE_SPEED_MPS, max(MIN_PLAUSIBLE_SPEED_MPS, SPEED_LIMIT_FACTOR * fastest))
#: What GPS and edge-offset rounding may add to a distance (m).
POSITION_SLACK_M = 50.0


def place_xy(net: Network, edge_id: str, offset_m: float) -> Point | None:
    """Where an edge place is (network m); ``None`` off the road edges."""
    if edge_id.startswith(":") or edge_id not in net.edges:
        return None
    return edge_point(net, edge_id, offset_m)


def implausible(
    last_xy: Point | None,
    last_time_s: float | None,
    new_xy: Point | None,
    new_time_s: float,
    speed_mps: float,
    max_speed_mps: float = MAX_PLAUSIBLE_SPEED_MPS,
) -> str | None:
    """Why a new sample is impossible, or ``None`` if it is plausible.

    Parameters
    ----------
    last_xy, last_time_s
        Where and when (network m, s) the vehicle was last accepted, if ever.
    new_xy, new_time_s
        The new sample (``new_xy`` ``None``: inside a junction, not judged by distance).
    speed_mps
        The speed the sample reports (m/s).
    max_speed_mps
        The fastest the vehicle plausibly drives here (m/s; see :func:`plausible_speed_mps`).
    """
    if speed_mps > max_speed_mps:
        return (
            f"reported speed {speed_mps * 3.6:.0f} km/h is above what an emergency vehicle "
            f"reaches here ({max_speed_mps * 3.6:.0f} km/h)"
        )
    if last_xy is None or last_time_s is None or new_xy is None:
        return None
    dist_m = math.dist(last_xy, new_xy)
    dt_s = max(new_time_s - last_time_s, 0.0)
    if dist_m > max_speed_mps * dt_s + POSITION_SLACK_M:
        return (
            f"moved {dist_m:.0f} m in {dt_s:.1f} s (at least {dist_m / max(dt_s, 1e-3) * 3.6:.0f} "
            "km/h): a glitch or a false position; the sample is ignored"
        )
    return None
