"""Fastest routes for priority vehicles over the edge graph, with live travel times.

Functional API on top of :mod:`clearway.network.graph`:

- :func:`fastest_route` — one query (origin edge + offset -> destination edge [+ offset]);
- :func:`clearway.network.snap.snap_to_edge` / ``snap_lonlat`` — a position to a lane;
- :func:`replan_needed` / :func:`remaining_route` — follow a vehicle along its route;
- :func:`route_of` — check and time an explicit route.

A route's cost is the time from the start position to the end of the destination edge (or to
the destination offset): the rest of the origin edge, then for every further edge its passage
through the junction before it plus its travel time.

Queries run ``scipy.sparse.csgraph.dijkstra`` on reduced costs ``cost + h[head] - h[tail]``:
A* with ``h`` the ALT lower bound (triangle inequality over precomputed times to and from a
few landmarks on the network's rim, the two that bound the pair best; see
:func:`clearway.network.graph.landmarks_for`). csgraph has no target to stop at, so a
``limit`` on the reduced distance — starting near 0, which is where the destination lies when
the bound is tight — is raised until the destination is settled: a query explores the edges
that nearly lie on a fastest path, not the whole city. Per query that costs two passes over
the arcs (the reweighting) plus the search itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from clearway.errors import RouteError, UnknownEdgeError
from clearway.network.graph import (
    RoutingGraph,
    build_routing_graph,
    edge_times_s,
    landmarks_for,
)

__all__ = [
    "Route",
    "RoutingGraph",
    "build_routing_graph",
    "edge_times_s",
    "fastest_route",
    "remaining_route",
    "replan_needed",
    "route_of",
]


@dataclass(frozen=True, slots=True)
class Route:
    """A drivable route.

    Attributes
    ----------
    edges
        Road edge ids in driving order.
    travel_time_s
        Time from the start position to the end (or destination offset) of the last edge (s).
    length_m
        Distance driven, junction passages included (m).
    junctions
        Junctions passed, in order (the downstream junction of every edge but the last).
    end_times_s
        Time from the start to the end of each edge (s); the last entry is the arrival.
        ``end_times_s[i]`` is the ETA at ``junctions[i]`` (free of the queue ahead of it).
    end_lengths_m
        Distance from the start to the end of each edge (m).
    edge_lengths_m
        Full length of each edge (m).
    vclass
        Vehicle class the route was planned for.
    origin_offset_m, destination_offset_m
        Start position on the first edge and end position on the last (m).
    """

    edges: tuple[str, ...]
    travel_time_s: float
    length_m: float
    junctions: tuple[str, ...]
    end_times_s: tuple[float, ...] = ()
    end_lengths_m: tuple[float, ...] = ()
    edge_lengths_m: tuple[float, ...] = ()
    vclass: str = "emergency"
    origin_offset_m: float = 0.0
    destination_offset_m: float | None = None


# -- queries ---------------------------------------------------------------------------------
def fastest_route(
    graph: RoutingGraph,
    origin_edge: str,
    destination_edge: str,
    *,
    edge_times_s: np.ndarray | None = None,
    origin_offset_m: float = 0.0,
    destination_offset_m: float | None = None,
) -> Route:
    """The fastest route between two positions for the graph's vehicle class.

    Parameters
    ----------
    graph
        From :func:`build_routing_graph` (one per network and vehicle class).
    origin_edge, destination_edge
        Road edge ids.
    edge_times_s
        Travel time per node (s) from :func:`edge_times_s`; ``None`` for free flow.
    origin_offset_m
        Start position along the origin edge (m from its start).
    destination_offset_m
        End position along the destination edge (m); ``None`` for its end.

    Returns
    -------
    Route

    Raises
    ------
    UnknownEdgeError
        An edge id does not exist (the message suggests near matches).
    RouteError
        An edge is internal/crossing/walking area, does not allow the vehicle class, an
        offset is outside its edge, or the destination is not reachable.
    """
    o = _node(graph, origin_edge, "origin")
    d = _node(graph, destination_edge, "destination")
    off = _offset(graph, o, origin_offset_m, "origin_offset_m")
    doff = (
        None
        if destination_offset_m is None
        else _offset(graph, d, destination_offset_m, "destination_offset_m")
    )
    times = graph.free_flow_s if edge_times_s is None else np.asarray(edge_times_s, dtype=float)
    matrix = _matrix(graph, edge_times_s)
    if o == d and (doff is None or doff >= off):
        return _assemble(graph, [o], times, off, doff)
    if o == d:
        path = _loop_path(graph, matrix, o, origin_edge)
    else:
        path = _search(graph, matrix, o, d, origin_edge, destination_edge)
    return _assemble(graph, path, times, off, doff)


def route_of(
    graph: RoutingGraph,
    edges: tuple[str, ...] | list[str],
    *,
    edge_times_s: np.ndarray | None = None,
    origin_offset_m: float = 0.0,
    destination_offset_m: float | None = None,
) -> Route:
    """Check an explicit route (consecutive edges connected for the class) and time it.

    Raises
    ------
    UnknownEdgeError, RouteError
        As :func:`fastest_route`; RouteError also when two consecutive edges are not connected.
    """
    if not edges:
        raise RouteError("an explicit route needs at least one edge")
    nodes = [_node(graph, e, "route") for e in edges]
    m = graph.matrix
    for a, b in zip(nodes, nodes[1:], strict=False):
        if b not in m.indices[m.indptr[a] : m.indptr[a + 1]]:
            raise RouteError(
                f"route is not drivable for vehicle class {graph.vclass!r}: no connection from "
                f"edge {graph.edge_ids[a]!r} to edge {graph.edge_ids[b]!r}"
            )
    times = graph.free_flow_s if edge_times_s is None else np.asarray(edge_times_s, dtype=float)
    off = _offset(graph, nodes[0], origin_offset_m, "origin_offset_m")
    doff = None
    if destination_offset_m is not None:
        doff = _offset(graph, nodes[-1], destination_offset_m, "destination_offset_m")
    return _assemble(graph, nodes, times, off, doff)


def replan_needed(route: Route, current_edge: str) -> bool:
    """True if a vehicle on ``current_edge`` has left ``route``.

    An internal edge (``:J_3``) counts as on the route while ``J`` is a junction of the route.
    """
    if current_edge in route.edges:
        return False
    if current_edge.startswith(":"):
        return current_edge[1:].rsplit("_", 1)[0] not in route.junctions
    return True


def remaining_route(route: Route, current_edge: str, offset_m: float = 0.0) -> Route:
    """The rest of ``route`` for a vehicle at ``offset_m`` (m) on ``current_edge``.

    Times and lengths come from the original plan (no new search); the part of the current
    edge already driven is taken out in proportion to its length.

    Raises
    ------
    RouteError
        If ``current_edge`` is not on the route (re-plan with :func:`fastest_route`).
    """
    if current_edge not in route.edges:
        raise RouteError(
            f"edge {current_edge!r} is not on the route {route.edges[0]!r} -> "
            f"{route.edges[-1]!r}; the vehicle left it, plan a new route"
        )
    i = route.edges.index(current_edge)
    t_prev = route.end_times_s[i - 1] if i else 0.0
    l_prev = route.end_lengths_m[i - 1] if i else 0.0
    start_off = route.origin_offset_m if i == 0 else 0.0
    span = route.edge_lengths_m[i] - start_off
    frac = min(max(offset_m - start_off, 0.0) / span, 1.0) if span > 0 else 0.0
    t0 = t_prev + frac * (route.end_times_s[i] - t_prev)
    l0 = l_prev + frac * (route.end_lengths_m[i] - l_prev)
    ends_t = tuple(t - t0 for t in route.end_times_s[i:])
    ends_l = tuple(x - l0 for x in route.end_lengths_m[i:])
    return replace(
        route,
        edges=route.edges[i:],
        junctions=route.junctions[i:],
        travel_time_s=ends_t[-1],
        length_m=ends_l[-1],
        end_times_s=ends_t,
        end_lengths_m=ends_l,
        edge_lengths_m=route.edge_lengths_m[i:],
        origin_offset_m=max(offset_m, start_off),
    )


# -- internals -------------------------------------------------------------------------------
def _node(graph: RoutingGraph, edge_id: str, role: str) -> int:
    i = graph.index.get(edge_id)
    if i is None:
        function = graph.special_edges.get(edge_id)
        if function is not None:
            raise RouteError(
                f"{role} {edge_id!r} is a {function} edge inside a junction; routes start and "
                "end on road edges — use the road edge before or after it"
            )
        raise UnknownEdgeError(edge_id, graph.edge_ids, where=graph.where)
    if not graph.usable[i]:
        allowed = graph.edge_allowed.get(edge_id, ())
        raise RouteError(
            f"{role} edge {edge_id!r} does not allow vehicle class {graph.vclass!r} (its lanes "
            f"allow: {', '.join(allowed) or 'nothing'}); choose a road open to it"
        )
    return i


def _offset(graph: RoutingGraph, i: int, offset_m: float, name: str) -> float:
    length = float(graph.length_m[i])
    if not (-1e-6 <= offset_m <= length + 1e-6):
        raise RouteError(
            f"{name}={offset_m:.1f} m is outside edge {graph.edge_ids[i]!r} (length {length:.1f} m)"
        )
    return min(max(offset_m, 0.0), length)


def _matrix(graph: RoutingGraph, times: np.ndarray | None) -> sp.csr_matrix:
    if times is None:
        return graph.matrix
    last = graph._cache.get("times")
    if last is not None and last[0] is times and np.array_equal(last[1], times):
        return last[2]  # type: ignore[no-any-return]
    m = graph.with_times(times)
    graph._cache["times"] = (times, np.array(times, copy=True), m)
    return m


def _search(
    graph: RoutingGraph, matrix: sp.csr_matrix, o: int, d: int, origin: str, destination: str
) -> list[int]:
    """A* as Dijkstra on reduced costs ``cost + h[head] - h[tail]`` (ALT lower bound ``h``)."""
    h, bound = landmarks_for(graph, matrix).heuristic(o, d)
    reduced = matrix.data + h[graph.arc_head]
    reduced -= np.repeat(h, np.diff(matrix.indptr))
    np.maximum(reduced, 0.0, out=reduced)  # rounding only: h is consistent
    rm = sp.csr_matrix((reduced, matrix.indices, matrix.indptr), shape=matrix.shape)
    # The destination's reduced distance is (fastest time - bound): 0 when the bound is exact.
    limit = 0.005 * max(bound, 0.0) + 2.0
    reached = -1
    while True:
        dist, pred = dijkstra(rm, indices=o, return_predecessors=True, limit=limit)
        if np.isfinite(dist[d]):
            break
        if limit == np.inf:
            _unreachable(graph, o, d, int(np.count_nonzero(np.isfinite(dist))), origin, destination)
        n_reached = int(np.count_nonzero(np.isfinite(dist)))
        # Only a search without limit proves the destination unreachable.
        limit *= 3 if n_reached > reached else 10
        if n_reached >= graph.n // 4 or limit > 1e6:
            limit = np.inf
        reached = n_reached
    path = [d]
    while path[-1] != o:
        path.append(int(pred[path[-1]]))
    return path[::-1]


def _loop_path(graph: RoutingGraph, matrix: sp.csr_matrix, o: int, origin: str) -> list[int]:
    """Fastest way from the end of ``o`` back onto ``o`` (destination behind the start)."""
    dist, pred = dijkstra(matrix, indices=o, return_predecessors=True)
    into = np.flatnonzero(graph.arc_head == o)
    cost = dist[graph.arc_tail[into]] + matrix.data[into]
    if not into.size or not np.isfinite(cost.min()):
        raise RouteError(
            f"no route from {origin!r} back to a point behind the start on it for vehicle class "
            f"{graph.vclass!r} (the destination is not reachable: no way leads back onto it)"
        )
    p = int(graph.arc_tail[into[int(np.argmin(cost))]])
    path = [p]
    while path[-1] != o:
        path.append(int(pred[path[-1]]))
    return path[::-1] + [o]


def _unreachable(graph: RoutingGraph, o: int, d: int, n_reached: int, a: str, b: str) -> None:
    incoming = int(np.count_nonzero(graph.arc_head == d))
    usable = int(np.count_nonzero(graph.usable))
    why = (
        f"no connection usable by {graph.vclass!r} leads into {b!r}"
        if incoming == 0
        else f"{n_reached} of {usable} road edges usable by {graph.vclass!r} can be reached "
        f"from {a!r} and {b!r} is not among them; its {incoming} incoming connection(s) "
        "start from edges that cannot be reached"
    )
    raise RouteError(
        f"no route from {a!r} to {b!r} for vehicle class {graph.vclass!r} "
        f"(the destination is not reachable: {why})"
    )


def _arc_passage(graph: RoutingGraph, a: int, b: int) -> tuple[float, float]:
    m = graph.matrix
    lo, hi = m.indptr[a], m.indptr[a + 1]
    j = lo + int(np.flatnonzero(m.indices[lo:hi] == b)[0])
    return float(graph.passage_s[j]), float(graph.passage_m[j])


def _assemble(
    graph: RoutingGraph, path: list[int], times: np.ndarray, off: float, doff: float | None
) -> Route:
    first = path[0]
    first_len = float(graph.length_m[first])
    frac = 1.0 - off / first_len if first_len > 0 else 0.0
    t = float(times[first]) * frac
    dist = first_len - off
    ends_t, ends_l = [t], [dist]
    for a, b in zip(path, path[1:], strict=False):
        ps, pm = _arc_passage(graph, a, b)
        t += ps + float(times[b])
        dist += pm + float(graph.length_m[b])
        ends_t.append(t)
        ends_l.append(dist)
    if doff is not None:
        last = path[-1]
        last_len = float(graph.length_m[last])
        unused = last_len - doff
        ends_t[-1] -= float(times[last]) * (unused / last_len if last_len > 0 else 0.0)
        ends_l[-1] -= unused
    return Route(
        edges=tuple(graph.edge_ids[i] for i in path),
        travel_time_s=ends_t[-1],
        length_m=ends_l[-1],
        junctions=tuple(graph.to_junction[i] for i in path[:-1]),
        end_times_s=tuple(ends_t),
        end_lengths_m=tuple(ends_l),
        edge_lengths_m=tuple(float(graph.length_m[i]) for i in path),
        vclass=graph.vclass,
        origin_offset_m=off,
        destination_offset_m=doff,
    )
