"""When green must start for the priority vehicle: ETA, queue discharge, and lead time.

For each junction on the route, green for the vehicle's link must start at

    ETA − (time to discharge the queue standing in front of it) − (time the guard needs to
    get the junction from what it shows now to that green)

— early enough that the queue has drained when the vehicle arrives, and not earlier (every
second of early green is a second of red for cross traffic). Pure functions; times in s.
"""

from __future__ import annotations

import bisect
import math
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
        Distance from where the vehicle's front is now to the stop line (m): the reported
        place, at the front of its uncertainty, driven on for the report's age; negative
        once it is predicted past the line.
    eta_s
        Traffic time at which it reaches the stop line (s), at the earliest the report allows
        (the front of its uncertainty); before now for a junction predicted passed.
    late_s
        The latest passage the report allows at planning speed (s): from the back of its
        uncertainty. Equal to ``eta_s`` for an exact position.
    """

    junction_id: str
    approach_edge: str
    next_edge: str | None
    distance_m: float
    eta_s: float
    late_s: float = float("nan")

    def __post_init__(self) -> None:
        if math.isnan(self.late_s):
            object.__setattr__(self, "late_s", self.eta_s)


def junction_etas(
    net: Network,
    route: Sequence[str],
    current_edge: str,
    offset_m: float,
    speed_mps: float,
    time_s: float,
    *,
    now_s: float | None = None,
    spread_m: float = 0.0,
) -> list[JunctionEta]:
    """ETA at every junction still ahead on ``route``.

    The vehicle is taken to drive each edge at the higher of the edge's speed limit and its
    reported speed (an emergency vehicle may exceed the limit), never below
    :data:`MIN_PLANNING_SPEED_MPS`: a vehicle standing in a queue is about to be released by
    the corridor, so planning its arrival at free speed errs on the early side (a green
    waiting a little) rather than the late one (the vehicle stopping again).

    A report measured at ``time_s`` and read later (an AVL unit's, ``now_s``) is not where
    the vehicle is now: it has driven on since. ETAs count from the report's own time, so an
    old report's arrivals lie that much earlier than a fresh one at the same place would give
    — the report projected forward along the route by its age at planning speed. A report
    known only to ``spread_m`` (its accuracy) gives each junction an earliest arrival (from
    ``spread_m`` ahead of the place) and a latest passage (from ``spread_m`` behind it);
    junctions within ``spread_m`` behind the place are listed too: it may not have passed
    them yet.

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
    time_s
        Time of the position (s).
    now_s
        Time now, for ``distance_m`` (s); default ``time_s``.
    spread_m
        How far the vehicle may be ahead of or behind the place along the route (m).

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
    if not spread_m >= 0.0:
        raise ValueError(f"spread_m must be a distance >= 0 m, got {spread_m}")
    k0, offset0 = _behind(net, route, k, offset_m, spread_m)
    walk = _Walk(net, route, k0, offset0, speed_mps)
    here_m = walk.distance_at(k, offset_m)
    front_m = min(here_m + spread_m, walk.end_m)
    front_s = walk.time_at(front_m)
    age_s = 0.0 if now_s is None else max(now_s - time_s, 0.0)
    now_m = walk.distance_after(front_s + age_s)
    out: list[JunctionEta] = []
    for i, junction_m in zip(range(k0, len(route)), walk.ends_m, strict=True):
        at_s = walk.time_at(junction_m)
        nxt = route[i + 1] if i + 1 < len(route) else None
        out.append(
            JunctionEta(
                net.edge(route[i]).to_junction, route[i], nxt, junction_m - now_m,
                time_s + at_s - front_s, time_s + at_s,
            )
        )  # fmt: skip
    return out


def _planning_speed_mps(edge_speed_mps: float, speed_mps: float) -> float:
    return max(max(edge_speed_mps, speed_mps), MIN_PLANNING_SPEED_MPS)


def _behind(
    net: Network, route: Sequence[str], k: int, offset_m: float, back_m: float
) -> tuple[int, float]:
    """The route place ``back_m`` behind edge ``route[k]`` at ``offset_m`` (clamped to the
    route's start): (edge index, offset m)."""
    while back_m > offset_m and k > 0:
        back_m -= max(offset_m, 0.0)
        k -= 1
        offset_m = net.edge(route[k]).length_m
    return k, max(offset_m - back_m, 0.0)


class _Walk:
    """The route from a place to its end driven at planning speed: distance (m) and time (s)
    from the place, piecewise linear per edge."""

    def __init__(
        self, net: Network, route: Sequence[str], k: int, offset_m: float, speed_mps: float
    ) -> None:
        self.k = k
        self.offset_m = offset_m
        self.starts_m: list[float] = []
        self.ends_m: list[float] = []
        self.starts_s: list[float] = []
        self.speeds_mps: list[float] = []
        d = t = 0.0
        for i in range(k, len(route)):
            edge = net.edge(route[i])
            remaining = max(edge.length_m - (offset_m if i == k else 0.0), 0.0)
            v = _planning_speed_mps(edge.speed_mps, speed_mps)
            self.starts_m.append(d)
            self.starts_s.append(t)
            self.speeds_mps.append(v)
            d += remaining
            t += remaining / v
            self.ends_m.append(d)
        self.end_m = d

    def distance_at(self, k: int, offset_m: float) -> float:
        """Distance from the start place to edge index ``k`` at ``offset_m`` (m)."""
        i = k - self.k
        return self.starts_m[i] + max(offset_m - (self.offset_m if i == 0 else 0.0), 0.0)

    def _segment(self, starts: list[float], x: float) -> int:
        return max(bisect.bisect_right(starts, x) - 1, 0)

    def time_at(self, distance_m: float) -> float:
        """When the start place's vehicle is ``distance_m`` along (s after it is there)."""
        i = self._segment(self.starts_m, distance_m)
        return self.starts_s[i] + (distance_m - self.starts_m[i]) / self.speeds_mps[i]

    def distance_after(self, t_s: float) -> float:
        """Where it is ``t_s`` after the start place (m; driving on past the route's end at
        its last edge's speed)."""
        i = self._segment(self.starts_s, t_s)
        return self.starts_m[i] + (t_s - self.starts_s[i]) * self.speeds_mps[i]


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
