"""The routing graph: road edges as nodes, junction passages as arcs, for one vehicle class.

Built once per network and vehicle class by :func:`build_routing_graph` from the frozen
:class:`~clearway.network.model.Network` (no sumolib). Nodes are the network's normal (road)
edges; an arc ``e1 -> e2`` exists when some :class:`~clearway.network.model.Link` leads from a
lane of ``e1`` to a lane of ``e2`` and both lanes allow the vehicle class. Turn restrictions are
therefore exactly the connections present in the net (a U-turn only where SUMO has one).

Arc cost (s) = travel time of the *downstream* edge ``e2`` + the junction passage, where the
passage is the fastest allowed link's internal length divided by its approach speed (0 for
nets built without internal links). The distance Dijkstra returns for an edge is thus the time
from the end of the origin edge to the end of that edge; :mod:`clearway.network.routing` adds
the rest of the origin edge and, for a destination offset, subtracts the unused part.

Edge travel times come from :func:`edge_times_s` (free flow, or detector speeds and queues);
:meth:`RoutingGraph.with_times` turns them into a cost matrix by one vectorised gather over a
precomputed arc -> downstream-edge index, without rebuilding the sparse structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from clearway.errors import RouteError
from clearway.network.model import Network

if TYPE_CHECKING:
    from clearway.state.traffic import TrafficState

__all__ = [
    "DISCHARGE_HEADWAY_S",
    "JAM_SPACING_M",
    "MIN_OBSERVED_SPEED_MPS",
    "RoutingGraph",
    "Landmarks",
    "build_routing_graph",
    "edge_times_s",
    "landmarks_for",
]

#: Observed mean speeds below this are floored (m/s): a stopped detector is a queue, not a wall.
MIN_OBSERVED_SPEED_MPS = 2.0
#: Space one queued vehicle takes (m) ...
JAM_SPACING_M = 7.5
#: ... and the time one lane needs to discharge it at saturation flow (s/vehicle, 1800 veh/h).
DISCHARGE_HEADWAY_S = 2.0


@dataclass(frozen=True, eq=False)
class RoutingGraph:
    """Edge graph of one network for one vehicle class (see the module docstring).

    Attributes
    ----------
    vclass
        The SUMO vehicle class the graph was built for (e.g. ``"emergency"``).
    edge_ids
        Id of every node (all normal edges of the net, usable or not), index = node.
    index
        Edge id -> node index.
    usable
        True where at least one lane of the edge allows ``vclass`` (bool per node).
    length_m, free_flow_s
        Edge length (m) and free-flow travel time = length / speed limit (s), per node.
    end_xy_m
        Coordinates of each edge's downstream junction (m), shape ``(n, 2)``.
    to_junction
        Downstream junction id per node.
    matrix
        Free-flow cost matrix (CSR, s); ``matrix[i, j]`` = cost of arc ``i -> j``.
    arc_tail, arc_head
        Node of each stored arc's tail and head, aligned with ``matrix.data``.
    passage_s, passage_m
        Junction passage time (s) and length (m) of each arc, aligned with ``matrix.data``.
    lane_ids, lane_node, lane_length_m
        Every lane of a usable edge that allows ``vclass``, its node and its length (m).
    special_edges
        Id -> SUMO function of the net's internal, crossing and walking-area edges.
    edge_allowed
        Id -> classes its lanes allow, for the edges ``vclass`` may not use.
    where
        The network's name, for error messages.
    """

    vclass: str
    edge_ids: tuple[str, ...]
    index: dict[str, int]
    usable: np.ndarray
    length_m: np.ndarray
    free_flow_s: np.ndarray
    end_xy_m: np.ndarray
    to_junction: tuple[str, ...]
    matrix: sp.csr_matrix
    arc_tail: np.ndarray
    arc_head: np.ndarray
    passage_s: np.ndarray
    passage_m: np.ndarray
    lane_ids: tuple[str, ...]
    lane_node: np.ndarray
    lane_length_m: np.ndarray
    special_edges: dict[str, str] = field(repr=False, default_factory=dict)
    edge_allowed: dict[str, tuple[str, ...]] = field(repr=False, default_factory=dict)
    where: str = "the network"
    _lane_pos: dict[str, int] = field(repr=False, default_factory=dict)
    _state_maps: dict[tuple[str, ...], np.ndarray] = field(repr=False, default_factory=dict)
    _cache: dict[str, object] = field(repr=False, default_factory=dict)

    @property
    def n(self) -> int:
        """Number of nodes (normal edges)."""
        return len(self.edge_ids)

    def with_times(self, edge_times_s: np.ndarray | None) -> sp.csr_matrix:
        """Cost matrix for the given per-edge travel times (s), sharing the sparse structure.

        ``data = edge_times_s[arc_head] + passage_s``: one gather, no rebuild.
        """
        if edge_times_s is None:
            return self.matrix
        times = np.asarray(edge_times_s, dtype=float)
        if times.shape != (self.n,):
            raise ValueError(f"edge_times_s has shape {times.shape}, expected ({self.n},)")
        if not np.all(np.isfinite(times)) or np.any(times < 0):
            raise ValueError("edge_times_s must be finite and non-negative (s)")
        data = times[self.arc_head] + self.passage_s
        m = sp.csr_matrix((data, self.matrix.indices, self.matrix.indptr), shape=self.matrix.shape)
        return m

    def lane_map(self, state_lane_ids: tuple[str, ...]) -> np.ndarray:
        """For each lane of a detector state, its position in :attr:`lane_ids` or -1 (cached)."""
        found = self._state_maps.get(state_lane_ids)
        if found is None:
            pos = self._lane_pos
            found = np.fromiter(
                (pos.get(lane, -1) for lane in state_lane_ids),
                dtype=np.intp,
                count=len(state_lane_ids),
            )
            if len(self._state_maps) > 8:
                self._state_maps.clear()
            self._state_maps[state_lane_ids] = found
        return found


def build_routing_graph(net: Network, vclass: str = "emergency") -> RoutingGraph:
    """Build the edge graph of ``net`` for vehicle class ``vclass``.

    Parameters
    ----------
    net
        The frozen network.
    vclass
        SUMO vehicle class whose lane permissions and connections apply.

    Returns
    -------
    RoutingGraph
        Nodes = normal edges; arcs = allowed connections; free-flow costs (s).

    Raises
    ------
    RouteError
        If no lane of the network allows ``vclass``.
    """
    edges = [e for e in net.edges.values() if e.is_normal]
    edge_ids = tuple(e.id for e in edges)
    index = {eid: i for i, eid in enumerate(edge_ids)}
    n = len(edges)
    lanes = net.lanes
    length = np.array([e.length_m for e in edges], dtype=float)
    speed = np.array([max(e.speed_mps, 0.1) for e in edges], dtype=float)
    usable = np.zeros(n, dtype=bool)
    lane_ids: list[str] = []
    lane_node: list[int] = []
    lane_len: list[float] = []
    for i, e in enumerate(edges):
        for lid in e.lane_ids:
            if vclass in lanes[lid].allowed:
                usable[i] = True
                lane_ids.append(lid)
                lane_node.append(i)
                lane_len.append(lanes[lid].length_m)
    if not usable.any():
        raise RouteError(
            f"no lane of the network allows vehicle class {vclass!r}; check the class name "
            "(SUMO vClass, e.g. 'emergency', 'passenger') or the net's lane permissions"
        )
    junctions = net.junctions
    end_xy = np.zeros((n, 2))
    for i, e in enumerate(edges):
        j = junctions.get(e.to_junction)
        if j is not None:
            end_xy[i] = (j.x_m, j.y_m)
        elif lanes.get(e.lane_ids[0]) is not None and lanes[e.lane_ids[0]].shape:
            end_xy[i] = lanes[e.lane_ids[0]].shape[-1]

    # Fastest allowed link per (from edge, to edge) pair: its passage time and length.
    passages: dict[tuple[int, int], tuple[float, float]] = {}
    for link in net.links:
        a = index.get(link.from_edge)
        b = index.get(link.to_edge)
        if a is None or b is None or link.is_crossing:
            continue
        fl, tl = lanes.get(link.from_lane), lanes.get(link.to_lane)
        if fl is None or tl is None or vclass not in fl.allowed or vclass not in tl.allowed:
            continue
        v = link.approach_speed_mps if link.approach_speed_mps > 0 else max(fl.speed_mps, 0.1)
        cand = (link.length_m / v, link.length_m)
        old = passages.get((a, b))
        if old is None or cand[0] < old[0]:
            passages[(a, b)] = cand
    pairs = np.array(sorted(passages), dtype=np.intp).reshape(-1, 2)
    pas = np.array([passages[(int(a), int(b))] for a, b in pairs], dtype=float).reshape(-1, 2)
    tail, head = pairs[:, 0].copy(), pairs[:, 1].copy()
    free_flow = length / speed
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.add.at(indptr, tail + 1, 1)
    indptr = np.cumsum(indptr).astype(np.int32)
    data = free_flow[head] + pas[:, 0]
    # Built from indptr (not COO) so zero-cost arcs stay stored: csgraph treats them as arcs.
    matrix = sp.csr_matrix((data, head.astype(np.int32), indptr), shape=(n, n))
    for arr in (usable, length, free_flow, end_xy, tail, head, pas):
        arr.setflags(write=False)
    return RoutingGraph(
        vclass=vclass,
        edge_ids=edge_ids,
        index=index,
        usable=usable,
        length_m=length,
        free_flow_s=free_flow,
        end_xy_m=end_xy,
        to_junction=tuple(e.to_junction for e in edges),
        matrix=matrix,
        arc_tail=tail,
        arc_head=head,
        passage_s=pas[:, 0].copy(),
        passage_m=pas[:, 1].copy(),
        lane_ids=tuple(lane_ids),
        lane_node=np.array(lane_node, dtype=np.intp),
        lane_length_m=np.array(lane_len, dtype=float),
        special_edges={e.id: e.function for e in net.edges.values() if not e.is_normal},
        edge_allowed={
            e.id: tuple(sorted(set().union(*(lanes[lid].allowed for lid in e.lane_ids))))
            for e, ok in zip(edges, usable, strict=True)
            if not ok
        },
        where=f"network {net.source.name}" if net.source else "the network",
        _lane_pos={lid: k for k, lid in enumerate(lane_ids)},
    )


def edge_times_s(graph: RoutingGraph, net: Network, traffic: TrafficState | None) -> np.ndarray:
    """Per-edge travel time from the current traffic state (s), aligned with ``graph.edge_ids``.

    Free flow (length / speed limit) where no detector covers a usable lane of the edge. On a
    covered lane the time is ``length / max(observed mean speed, 2 m/s)`` (free flow while the
    detector is empty, i.e. speed -1) plus the queue delay ``queue_m / 7.5 m * 2 s`` (the
    queue discharging at saturation flow, one vehicle per 2 s per lane). An edge's time is the
    mean over its covered lanes, never below free flow. Vectorised: the state's lanes are
    mapped to edges once per distinct ``lane_ids`` tuple and cached in the graph.

    Parameters
    ----------
    graph
        The routing graph.
    net
        The network the graph was built from (kept for API symmetry; unused beyond checks).
    traffic
        Detector aggregates, or ``None`` for free flow.

    Returns
    -------
    numpy.ndarray
        Travel time per node (s), float, shape ``(graph.n,)``.
    """
    times = np.array(graph.free_flow_s, dtype=float)
    if traffic is None or not traffic.lane_ids:
        return times
    pos = graph.lane_map(traffic.lane_ids)
    ok = pos >= 0
    if not ok.any():
        return times
    p = pos[ok]
    node = graph.lane_node[p]
    lane_len = graph.lane_length_m[p]
    speed = np.asarray(traffic.mean_speed_mps, dtype=float)[ok]
    # Detectors that do not measure a quantity (loops in the field report no queue or speed:
    # nan) leave free flow and add no queue delay.
    queue = np.nan_to_num(np.asarray(traffic.queue_m, dtype=float)[ok], nan=0.0)
    ff = graph.free_flow_s[node]
    run = np.where(speed >= 0, lane_len / np.maximum(speed, MIN_OBSERVED_SPEED_MPS), ff)
    lane_time = run + np.maximum(queue, 0.0) / JAM_SPACING_M * DISCHARGE_HEADWAY_S
    total = np.bincount(node, weights=lane_time, minlength=graph.n)
    count = np.bincount(node, minlength=graph.n)
    covered = count > 0
    times[covered] = np.maximum(total[covered] / count[covered], graph.free_flow_s[covered])
    return times


# -- landmarks (ALT) -------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Landmarks:
    """Landmark potentials for A* lower bounds (ALT), for one cost matrix.

    For a landmark ``L`` with distances ``f = d(L, .)`` (forward) and ``b = d(., L)``
    (backward), ``f[t] - f[v]`` and ``b[v] - b[t]`` bound ``d(v, t)`` from below (triangle
    inequality), for any costs at least those the distances were computed on. Each is a
    consistent A* potential, and so is the maximum of several — here the two landmark bounds
    best for the pair and the straight-line bound ``k * |end(v) - end(t)|`` (``k`` = the
    least time any arc takes per metre of straight-line progress), which stops the search
    from spreading past the destination where the landmark bounds are loose.

    Attributes
    ----------
    nodes
        Node index of each landmark.
    potential
        ``(2 * len(nodes), n)`` rows ``-f`` and ``b`` per landmark (s), so that
        ``potential[k, v] - potential[k, t]`` is a lower bound of the time from ``v`` to ``t``.
    """

    nodes: np.ndarray
    potential: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    k_s_per_m: float

    def heuristic(self, o: int, d: int, active: int = 2) -> tuple[np.ndarray, float]:
        """Lower bound of the time from every node to ``d`` (s), and its value at ``o``.

        Uses the ``active`` potentials that bound ``o -> d`` best (their maximum).
        """
        bounds = self.potential[:, o] - self.potential[:, d]
        rows = np.argsort(bounds)[::-1][:active]
        h = self.potential[rows[0]] - self.potential[rows[0], d]
        for k in rows[1:]:
            np.maximum(h, self.potential[k] - self.potential[k, d], out=h)
        if self.k_s_per_m > 0:
            ex = self.x_m - self.x_m[d]
            ey = self.y_m - self.y_m[d]
            ex *= ex
            ey *= ey
            ex += ey
            np.sqrt(ex, out=ex)
            ex *= self.k_s_per_m
            np.maximum(h, ex, out=h)
        return h, float(h[o])


def landmarks_for(
    graph: RoutingGraph, matrix: sp.csr_matrix, count: int | None = None
) -> Landmarks:
    """Landmarks valid for ``matrix`` (distances cached in the graph).

    Landmark distances are computed once on the free-flow matrix; a matrix with some arc
    cheaper than free flow gets its own (a lower bound must stay below every cost). The
    landmarks are spread over the network's rim by farthest-point selection on the edges'
    end coordinates; ``count`` defaults to 8.
    """
    cached = graph._cache.get("landmarks")
    if cached is not None and cached[0] is matrix:
        return cached[1]  # type: ignore[no-any-return]
    base = graph._cache.get("landmarks_free_flow")
    if base is None:
        nodes = _pick_landmarks(graph, count or 8)
        base = (nodes, _landmark_potential(graph.matrix, nodes))
        graph._cache["landmarks_free_flow"] = base
    nodes, potential = base
    if matrix is not graph.matrix and np.any(matrix.data < graph.matrix.data - 1e-9):
        potential = _landmark_potential(matrix, nodes)
    xy = graph.end_xy_m
    run = np.hypot(*(xy[graph.arc_head] - xy[graph.arc_tail]).T)
    ok = run > 1e-3
    k = float(np.min(matrix.data[ok] / run[ok])) * (1 - 1e-9) if ok.any() else 0.0
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    lm = Landmarks(nodes, potential, x, y, max(k, 0.0))
    graph._cache["landmarks"] = (matrix, lm)
    return lm


def _pick_landmarks(graph: RoutingGraph, count: int) -> np.ndarray:
    candidates = np.flatnonzero(graph.usable & (np.diff(graph.matrix.indptr) > 0))
    if candidates.size == 0:
        candidates = np.flatnonzero(graph.usable)
    xy = graph.end_xy_m[candidates]
    gap = np.hypot(*(xy - xy.mean(axis=0)).T)
    chosen: list[int] = []
    for _ in range(min(count, candidates.size)):
        k = int(np.argmax(gap))
        chosen.append(k)
        gap = np.minimum(gap, np.hypot(*(xy - xy[k]).T))
    return candidates[np.array(chosen, dtype=np.intp)]


def _landmark_potential(matrix: sp.csr_matrix, nodes: np.ndarray) -> np.ndarray:
    """Rows ``-d(L, .)`` and ``d(., L)`` per landmark; unreachable -> the row's extreme.

    Replacing ``inf`` by the largest finite distance keeps every reduced cost >= 0: no arc
    leads from a node L reaches to one it does not (forward), nor from a node that cannot
    reach L to one that can (backward).
    """
    fwd = dijkstra(matrix, indices=nodes)
    bwd = dijkstra(matrix.T.tocsr(), indices=nodes)
    rows = []
    for f, b in zip(np.atleast_2d(fwd), np.atleast_2d(bwd), strict=True):
        f = np.where(np.isfinite(f), f, f[np.isfinite(f)].max(initial=0.0) + 1.0)
        b = np.where(np.isfinite(b), b, b[np.isfinite(b)].max(initial=0.0) + 1.0)
        rows += [-f, b]
    return np.array(rows)
