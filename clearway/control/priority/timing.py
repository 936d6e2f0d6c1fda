"""When green must start for the priority vehicle: ETA, queue discharge, and lead time.

For each junction on the route, green for the vehicle's link must start at

    ETA − (time to discharge the queue standing in front of it) − (time the guard needs to
    get the junction from what it shows now to that green)

— early enough that the queue has drained when the vehicle arrives, and not earlier (every
second of early green is a second of red for cross traffic). Pure functions; times in s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clearway.errors import RouteError
from clearway.network.model import Network

#: Road space one queued car takes (m): 5 m vehicle + 2.5 m gap (the HCM's jam spacing).
JAM_SPACING_M = 7.5
#: Saturation headway per lane (s per vehicle): 1,900 veh/h/lane, HCM base saturation flow.
SATURATION_HEADWAY_S = 3600.0 / 1900.0
#: Start-up lost time of a queue when its green starts (s), HCM default.
STARTUP_LOST_S = 2.0
#: How long before the priority vehicle the tail of a discharging queue must cross the stop
#: line (s): the tail is still accelerating from standstill, and a vehicle that catches up
#: with it has to brake. In SUMO on a 200 m grid approach at 50 km/h, with no allowance the
#: ambulance braked to ~7 m/s behind the tail; 2 s and 4 s both kept it at speed on the
#: spill-back scenario (ratio 1.02 / 1.00), 2 s at less cost to cross traffic.
TAIL_HEADWAY_S = 2.0
#: Speed assumed for a vehicle reported (nearly) standing, so an ETA stays finite (m/s).
MIN_PLANNING_SPEED_MPS = 3.0


@dataclass(frozen=True, slots=True)
class JunctionEta:
    """Arrival of the priority vehicle at one junction of its route.

    Attributes
    ----------
    junction_id
        The junction (the ``to_junction`` of ``approach_edge``).
    approach_edge, next_edge
        The route's edge into and out of the junction (``next_edge`` is ``None`` at the end).
    distance_m
        Distance from the vehicle's front to the stop line (m).
    eta_s
        Traffic time at which it reaches the stop line (s).
    """

    junction_id: str
    approach_edge: str
    next_edge: str | None
    distance_m: float
    eta_s: float


def junction_etas(
    net: Network,
    route: Sequence[str],
    current_edge: str,
    offset_m: float,
    speed_mps: float,
    now_s: float,
) -> list[JunctionEta]:
    """ETA at every junction still ahead on ``route``.

    The vehicle is taken to drive each edge at the higher of the edge's speed limit and its
    reported speed (an emergency vehicle may exceed the limit), never below
    :data:`MIN_PLANNING_SPEED_MPS`: a vehicle standing in a queue is about to be released by
    the corridor, so planning its arrival at free speed errs on the early side (a green
    waiting a little) rather than the late one (the vehicle stopping again).

    Parameters
    ----------
    net
        The network.
    route
        Edge ids of the route.
    current_edge, offset_m
        Where the vehicle's front is: an edge of the route and the distance along it (m).
    speed_mps
        Its current speed (m/s).
    now_s
        Time of the position (s).

    Raises
    ------
    RouteError
        If ``current_edge`` is not on the route (re-plan first).
    """
    try:
        k = list(route).index(current_edge)
    except ValueError:
        raise RouteError(
            f"vehicle is on edge {current_edge!r}, which is not on its route; re-plan the route"
        ) from None
    out: list[JunctionEta] = []
    t = now_s
    distance = 0.0
    for i in range(k, len(route)):
        edge = net.edge(route[i])
        remaining = edge.length_m - (offset_m if i == k else 0.0)
        remaining = max(remaining, 0.0)
        v = max(max(edge.speed_mps, speed_mps), MIN_PLANNING_SPEED_MPS)
        t += remaining / v
        distance += remaining
        nxt = route[i + 1] if i + 1 < len(route) else None
        out.append(JunctionEta(edge.to_junction, edge.id, nxt, distance, t))
    return out


def queue_discharge_s(queue_m: float, lanes: int = 1) -> float:
    """Time from the start of green until a vehicle arriving behind a standing queue of
    ``queue_m`` metres passes unhindered: start-up, the queue at saturation flow, and
    :data:`TAIL_HEADWAY_S` behind its tail (s).

    Parameters
    ----------
    queue_m
        Queue length on the approach (m), e.g. from a lane-area detector's jam length.
    lanes
        Lanes the queue is spread over (the vehicle's lane and those discharging with it).
    """
    if queue_m <= 0.0:
        return 0.0
    vehicles = queue_m / JAM_SPACING_M / max(lanes, 1)
    return STARTUP_LOST_S + vehicles * SATURATION_HEADWAY_S + TAIL_HEADWAY_S


def green_start_s(eta_s: float, queue_m: float, transition_s: float, lanes: int = 1) -> float:
    """Latest time green must start for the vehicle's link (s): ETA − discharge − transition.

    Parameters
    ----------
    eta_s
        Vehicle's arrival at the stop line (s).
    queue_m
        Queue in front of it on its approach (m).
    transition_s
        Time the safety rules need to bring the junction from its current state to the green
        (min green of what must end, yellow, clearance) (s).
    lanes
        Lanes the queue discharges over.
    """
    return eta_s - queue_discharge_s(queue_m, lanes) - transition_s
