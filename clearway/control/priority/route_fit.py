"""Where on its planned route a GPS fix puts a priority vehicle.

A map matcher picks the most likely road for a fix; with 15 m of GPS error that is now and
then a side street or the parallel carriageway a few metres off the route. Taking such a match
at its word re-plans the corridor from the wrong street — held junctions dropped, others
held for nothing — although the fix is as close to the route as the error allows. The request
book asks :func:`nearest_on_route` for the closest point of the route itself and keeps the
vehicle there while the fix is within a few sigmas of it (:data:`ROUTE_KEEP_SIGMAS`).
Pure geometry on the lanes' centre lines; network metres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from clearway.network.model import Network

#: A fix within this many sigmas of its accuracy of the route is taken to be on it (a 2-D
#: Gaussian error with sigma per axis lies farther than 3 sigma from the truth in 1.1 % of
#: fixes: exp(-9/2)).
ROUTE_KEEP_SIGMAS = 3.0


@dataclass(frozen=True, slots=True)
class RoutePlace:
    """The point of a route nearest to a fix.

    Attributes
    ----------
    index
        Which edge of the route (its index in the route).
    edge_id, offset_m
        The edge and the distance along it from its start (m, in the edge's length).
    distance_m
        Straight-line distance from the fix to that point (m).
    """

    index: int
    edge_id: str
    offset_m: float
    distance_m: float


def nearest_on_route(
    net: Network, route: Sequence[str], x_m: float, y_m: float, *, start: int = 0
) -> RoutePlace | None:
    """The point nearest to (``x_m``, ``y_m``) on any lane of ``route[start:]`` or on a
    passage through a junction between two of its edges (then the start of the edge after it).

    Parameters
    ----------
    net
        The network.
    route
        Edge ids of the route.
    x_m, y_m
        The fix in network coordinates (m).
    start
        First route index searched: the vehicle is not behind the edge it was last on.

    Returns
    -------
    RoutePlace or None
        The nearest point (the earliest edge on a tie); ``None`` when no edge from ``start``
        on has a lane with a shape.
    """
    best: RoutePlace | None = None
    first = max(start, 0)
    for i in range(first, len(route)):
        edge = net.edge(route[i])
        for lane_id in edge.lane_ids:
            lane = net.lane(lane_id)
            along_m, dist_m = _nearest_on_shape(lane.shape, x_m, y_m)
            if math.isnan(dist_m) or (best is not None and dist_m >= best.distance_m):
                continue
            # Lane offsets are scaled to the edge's length, as the simulator reports them.
            scale = edge.length_m / lane.length_m if lane.length_m > 0 else 1.0
            offset_m = min(max(along_m * scale, 0.0), edge.length_m)
            best = RoutePlace(i, edge.id, offset_m, dist_m)
    # Inside a junction the vehicle is on a passage between two route edges (a large
    # cluster's is tens of metres long): past the stop line, at the start of the next edge.
    for i, lane_id in _passages(net, route, first):
        _, dist_m = _nearest_on_shape(net.lane(lane_id).shape, x_m, y_m)
        if not math.isnan(dist_m) and (best is None or dist_m < best.distance_m):
            best = RoutePlace(i, route[i], 0.0, dist_m)
    return best


def _passages(net: Network, route: Sequence[str], start: int) -> list[tuple[int, str]]:
    """(index of the edge it leads to, internal lane id) of every passage through a junction
    from ``route[k]`` to ``route[k + 1]``, ``k >= start``."""
    wanted = {(route[k], route[k + 1]): k + 1 for k in range(start, len(route) - 1)}
    return [
        (wanted[(lk.from_edge, lk.to_edge)], lk.via_lane)
        for lk in net.links
        if lk.via_lane and (lk.from_edge, lk.to_edge) in wanted and lk.via_lane in net.lanes
    ]


def _nearest_on_shape(
    shape: Sequence[tuple[float, float]], x_m: float, y_m: float
) -> tuple[float, float]:
    """(distance along the polyline, distance to it) of its point nearest to the fix (m);
    (nan, nan) for a shape without points."""
    if not shape:
        return math.nan, math.nan
    if len(shape) == 1:
        return 0.0, math.dist(shape[0], (x_m, y_m))
    best_along, best_dist = math.nan, math.inf
    walked = 0.0
    for (x0, y0), (x1, y1) in zip(shape, shape[1:], strict=False):
        dx, dy = x1 - x0, y1 - y0
        seg2 = dx * dx + dy * dy
        t = 0.0 if seg2 == 0 else min(max(((x_m - x0) * dx + (y_m - y0) * dy) / seg2, 0.0), 1.0)
        d = math.hypot(x0 + t * dx - x_m, y0 + t * dy - y_m)
        seg = math.sqrt(seg2)
        if d < best_dist:
            best_along, best_dist = walked + t * seg, d
        walked += seg
    return best_along, best_dist
