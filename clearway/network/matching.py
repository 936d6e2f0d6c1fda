"""Online HMM map matching (Newson & Krumm 2009) of noisy positions to usable lanes.

Candidates are every usable lane within a radius of the fix (from snap's cached segment
arrays); the emission is a Gaussian on distance times a heading agreement term; the transition
penalises the gap between route distance (bounded Dijkstra on edge lengths) and straight-line
distance. Filtering is lag-0: each step returns the best candidate of the forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from clearway.errors import RouteError
from clearway.network.graph import RoutingGraph
from clearway.network.model import Network
from clearway.network.snap import _segments


class MatchError(RouteError):
    """No usable lane lies near a fix; check the position or its coordinate system."""


@dataclass(frozen=True)
class MatchedPlace:
    """Best place of the current fix: edge, offset along it (m), distance fix-lane (m)."""

    edge_id: str
    offset_m: float
    distance_m: float
    log_prob: float


@dataclass(frozen=True)
class MatchState:
    """Forward log-probabilities of the previous fix's candidates (empty at start)."""

    nodes: tuple[int, ...] = ()
    offsets_m: tuple[float, ...] = ()
    xy_m: tuple[tuple[float, float], ...] = ()
    log_probs: tuple[float, ...] = ()
    time_s: float | None = None


def _length_matrix(graph: RoutingGraph) -> csr_matrix:
    cached = graph._cache.get("match_length_matrix")
    if cached is None:
        head = np.asarray(graph.arc_head)
        w = np.asarray(graph.length_m, dtype=float)[head] + np.asarray(graph.passage_m, float)
        n = len(graph.edge_ids)
        cached = csr_matrix((np.maximum(w, 1e-3), (np.asarray(graph.arc_tail), head)), (n, n))
        graph._cache["match_length_matrix"] = cached
    return cached


def _candidates(net, graph, x_m, y_m, radius_m):
    seg = _segments(net, graph)
    if seg is None:
        raise MatchError(f"no lane with a shape allows vehicle class {graph.vclass!r}")
    x1, y1, dx, dy, seg_len2, lane, cum, scale = seg
    t = np.clip(((x_m - x1) * dx + (y_m - y1) * dy) / seg_len2, 0.0, 1.0)
    px, py = x1 + t * dx, y1 + t * dy
    dist = np.hypot(px - x_m, py - y_m)
    best: dict[int, tuple[float, float, float, float, float]] = {}
    for k in np.flatnonzero(dist <= radius_m):
        node = int(graph.lane_node[int(lane[k])])
        d = float(dist[k])
        if node not in best or d < best[node][0]:
            off = float(min((cum[k] + t[k] * np.sqrt(seg_len2[k])) * scale[k], graph.length_m[node]))
            best[node] = (d, off, float(px[k]), float(py[k]), float(np.arctan2(dy[k], dx[k])))
    return best


def match_step(
    net: Network,
    graph: RoutingGraph,
    state: MatchState,
    x_m: float,
    y_m: float,
    time_s: float,
    heading_deg: float | None = None,
    speed_mps: float | None = None,
    accuracy_m: float = 10.0,
    *,
    route_edges: frozenset[str] = frozenset(),
    beta_m: float = 30.0,
    route_bonus: float = 1.0,
) -> tuple[MatchState, MatchedPlace]:
    """One lag-0 forward step of the HMM for a fix at ``(x_m, y_m)`` (m) at ``time_s`` (s).

    ``heading_deg`` is compass degrees (0 = north, clockwise), used above 2 m/s;
    ``accuracy_m`` is the 1-sigma position error (m, floored at 3 m); ``route_edges`` get a
    log-probability bonus ``route_bonus``; ``beta_m`` (m) scales the transition penalty.
    Raises :class:`MatchError` when no usable lane lies within ``max(3 accuracy, 25 m)``.
    """
    sigma = max(float(accuracy_m), 3.0)
    radius = max(3.0 * sigma, 25.0)
    cands = _candidates(net, graph, x_m, y_m, radius)
    if not cands:
        raise MatchError(
            f"no lane usable by {graph.vclass!r} within {radius:.0f} m of ({x_m:.1f}, {y_m:.1f})"
        )
    nodes = list(cands)
    d = np.array([cands[n][0] for n in nodes])
    emis = -0.5 * (d / sigma) ** 2
    if heading_deg is not None and speed_mps is not None and speed_mps > 2.0:
        h = np.deg2rad(90.0 - heading_deg)  # compass -> math angle
        ang = np.array([cands[n][4] for n in nodes])
        emis = emis + 2.0 * (np.cos(ang - h) - 1.0)  # von Mises, kappa = 2
    emis = emis + np.array([route_bonus if graph.edge_ids[n] in route_edges else 0.0 for n in nodes])
    offs = [cands[n][1] for n in nodes]
    xy = [(cands[n][2], cands[n][3]) for n in nodes]
    if state.nodes:
        dt = max(time_s - (state.time_s or time_s), 0.1)
        limit = max(2.0 * 40.0 * dt, 200.0)
        prev = np.array(state.nodes)
        dd = dijkstra(_length_matrix(graph), indices=prev, limit=limit)
        trans = np.full((len(prev), len(nodes)), -np.inf)
        length = np.asarray(graph.length_m, dtype=float)
        for a, (pa, oa) in enumerate(zip(state.nodes, state.offsets_m, strict=True)):
            for b, nb in enumerate(nodes):
                if pa == nb and offs[b] >= oa - 2.0 * sigma:
                    route = abs(offs[b] - oa)
                elif np.isfinite(dd[a, nb]):
                    route = length[pa] - oa + dd[a, nb] - length[nb] + offs[b]
                else:
                    continue
                gc = float(np.hypot(xy[b][0] - state.xy_m[a][0], xy[b][1] - state.xy_m[a][1]))
                trans[a, b] = -abs(route - gc) / beta_m
        score = np.array(state.log_probs)[:, None] + trans
        fwd = score.max(axis=0)
        if not np.isfinite(fwd).any():
            fwd = np.zeros(len(nodes))  # trace broken: restart from emissions alone
        fwd = fwd + emis
    else:
        fwd = emis
    fwd = fwd - np.max(fwd)
    keep = np.isfinite(fwd)
    k = int(np.argmax(fwd))
    new = MatchState(
        nodes=tuple(n for n, ok in zip(nodes, keep, strict=True) if ok),
        offsets_m=tuple(o for o, ok in zip(offs, keep, strict=True) if ok),
        xy_m=tuple(p for p, ok in zip(xy, keep, strict=True) if ok),
        log_probs=tuple(float(v) for v in fwd[keep]),
        time_s=float(time_s),
    )
    return new, MatchedPlace(graph.edge_ids[nodes[k]], float(offs[k]), float(d[k]), float(fwd[k]))
