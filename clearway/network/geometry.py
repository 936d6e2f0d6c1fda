"""Points on the network's geometry: where a place given as edge + offset is drawn."""

from __future__ import annotations

import math
from collections.abc import Sequence

from clearway.network.model import Network, Point


def point_along(shape: Sequence[Point], offset_m: float) -> Point:
    """The point ``offset_m`` metres along a polyline (clamped to its ends).

    Parameters
    ----------
    shape
        The polyline as (x, y) points (network m); at least one point.
    offset_m
        Distance from its first point along it (m).
    """
    if not shape:
        raise ValueError("a shape needs at least one point")
    left = max(offset_m, 0.0)
    for (x0, y0), (x1, y1) in zip(shape, shape[1:], strict=False):
        seg = math.hypot(x1 - x0, y1 - y0)
        if left <= seg and seg > 0:
            f = left / seg
            return (x0 + f * (x1 - x0), y0 + f * (y1 - y0))
        left -= seg
    return shape[-1]


def edge_point(net: Network, edge_id: str, offset_m: float) -> Point:
    """Where ``offset_m`` metres along ``edge_id`` is drawn: on its rightmost lane's centre
    line, the offset scaled from the edge's length to the lane's (network m).

    Raises
    ------
    UnknownEdgeError
        ``edge_id`` is not in the network.
    """
    edge = net.edge(edge_id)
    if not edge.lane_ids:
        j = net.junction(edge.to_junction)
        return (j.x_m, j.y_m)
    lane = net.lane(edge.lane_ids[0])
    scale = lane.length_m / edge.length_m if edge.length_m > 0 else 1.0
    return point_along(lane.shape, offset_m * scale)
