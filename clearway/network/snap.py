"""Snap a position (network x/y or lon/lat) to the nearest lane a vehicle class may use.

Every lane segment of the routing graph's usable lanes is held in numpy arrays (built once per
graph), so a snap is one vectorised point-to-segment distance pass.
"""

from __future__ import annotations

import numpy as np

from clearway.errors import RouteError
from clearway.network.geo import lonlat_to_xy
from clearway.network.graph import RoutingGraph
from clearway.network.model import Network

__all__ = ["snap_lonlat", "snap_to_edge"]


def snap_to_edge(
    net: Network, graph: RoutingGraph, x_m: float, y_m: float, *, max_distance_m: float = 50.0
) -> tuple[str, float, float]:
    """The nearest lane usable by the graph's vehicle class to a point.

    Parameters
    ----------
    net, graph
        The network and its routing graph.
    x_m, y_m
        Position in network coordinates (m).
    max_distance_m
        Farthest acceptable distance from the lane's centre line (m).

    Returns
    -------
    tuple[str, float, float]
        ``(edge_id, offset_m, distance_m)``: the edge, the position along it (m from its
        start) and the distance from the point to the lane (m).

    Raises
    ------
    RouteError
        If the nearest usable lane is farther than ``max_distance_m``.
    """
    seg = _segments(net, graph)
    if seg is None:
        raise RouteError(f"no lane with a shape allows vehicle class {graph.vclass!r}")
    x1, y1, dx, dy, seg_len2, lane, cum, scale = seg
    t = np.clip(((x_m - x1) * dx + (y_m - y1) * dy) / seg_len2, 0.0, 1.0)
    px, py = x1 + t * dx - x_m, y1 + t * dy - y_m
    dist2 = px * px + py * py
    k = int(np.argmin(dist2))
    dist = float(np.sqrt(dist2[k]))
    if dist > max_distance_m:
        raise RouteError(
            f"no lane usable by vehicle class {graph.vclass!r} within {max_distance_m:.0f} m of "
            f"({x_m:.1f}, {y_m:.1f}); the nearest is {dist:.0f} m away — check the position "
            "(and its coordinate system) or raise max_distance_m"
        )
    li = int(lane[k])
    node = int(graph.lane_node[li])
    offset = (cum[k] + t[k] * np.sqrt(seg_len2[k])) * scale[k]
    return graph.edge_ids[node], float(min(offset, graph.length_m[node])), dist


def snap_lonlat(
    net: Network, graph: RoutingGraph, lon: float, lat: float, *, max_distance_m: float = 50.0
) -> tuple[str, float, float]:
    """:func:`snap_to_edge` for a WGS84 position (degrees); needs a geo-referenced net."""
    x, y = lonlat_to_xy(net.geo, lon, lat)
    return snap_to_edge(net, graph, x, y, max_distance_m=max_distance_m)


def _segments(net: Network, graph: RoutingGraph) -> tuple[np.ndarray, ...] | None:
    cached = graph._cache.get("segments")
    if cached is not None:
        return cached  # type: ignore[return-value]
    pts: list[tuple[float, float, float, float, int, float]] = []
    scales: list[float] = []
    for li, lane_id in enumerate(graph.lane_ids):
        lane = net.lanes[lane_id]
        shape = lane.shape
        seg = [(shape[s], shape[s + 1]) for s in range(len(shape) - 1)]
        lens = [float(np.hypot(q[0] - p[0], q[1] - p[1])) for p, q in seg]
        total = sum(lens)
        scale = lane.length_m / total if total > 0 else 1.0
        cum = 0.0
        for (p, q), ln in zip(seg, lens, strict=True):
            pts.append((p[0], p[1], q[0] - p[0], q[1] - p[1], li, cum))
            scales.append(scale)
            cum += ln
    if not pts:
        return None
    arr = np.array(pts, dtype=float)
    dx, dy = arr[:, 2], arr[:, 3]
    len2 = np.maximum(dx * dx + dy * dy, 1e-12)
    out = (
        arr[:, 0],
        arr[:, 1],
        dx,
        dy,
        len2,
        arr[:, 4].astype(np.intp),
        arr[:, 5],
        np.array(scales),
    )
    graph._cache["segments"] = out
    return out
