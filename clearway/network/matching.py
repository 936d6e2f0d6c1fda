"""Online HMM map matching (Newson & Krumm 2009) of noisy positions to usable lanes.

Candidates are the usable edges with a lane within a radius of the fix (snap's cached segment
arrays, searched through a cell index), each at its lane point nearest the fix. Emission: a
Gaussian on that distance, times a von Mises term on the angle between the fix's heading and
the lane's driving direction there -- the reported heading above ``MIN_HEADING_SPEED_MPS``,
else the bearing between two fixes far enough apart to trust it. The heading is what keeps a
fix between two carriageways on the vehicle's own direction.

Transition from each previous candidate: the route distance (signed along the same edge, or a
bounded Dijkstra on edge lengths to another edge, a U-turn charged extra) against the
straight-line distance (the Newson-Krumm term, scale ``beta_m``) and against the distance the
reported speed covers in the interval (scale ``speed_beta_m``). A jump to a parallel street
or the opposite carriageway needs a long route (round the block, or a U-turn) and so scores
far below staying on the street being driven. Each candidate's offset along its edge is
filtered with the speed (a scalar Kalman step from its best predecessor). Filtering is lag-0:
each step returns the best candidate of the forward pass; the planned route's edges get a
log-probability bonus ``route_bonus``. Parameters were tuned on bench/matching_bench.py (see
docs/matching.md).

The matcher is pure: the caller keeps one :class:`MatchState` per vehicle (a new one,
``MatchState()``, for a new trace) and drops it when the trace ends.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from clearway.errors import RouteError
from clearway.network.graph import RoutingGraph
from clearway.network.model import Network
from clearway.network.snap import _segments

__all__ = ["MatchError", "MatchState", "MatchedPlace", "match_step"]

#: Below this speed (m/s) a reported heading is noise (a standing GPS unit's heading wanders).
MIN_HEADING_SPEED_MPS = 2.0
#: Von Mises concentration of a reported heading's agreement with the lane direction.
KAPPA_HEADING = 2.0
#: ... and of a bearing taken from two fixes (noisier; used when no heading is reported).
KAPPA_TRACK = 1.0
#: Two fixes give a bearing when they lie this many position sigmas apart ...
TRACK_MIN_SIGMAS = 3.0
#: ... within this interval (s); a longer gap may hide a turn.
TRACK_MAX_GAP_S = 10.0
#: Fastest credible speed (m/s): bounds the route search between two fixes.
MAX_SPEED_MPS = 40.0
#: Extra route length (m) charged for a U-turn onto the reverse edge: an ambulance seldom
#: turns back, and without it a fix near a junction jumps carriageways for free.
U_TURN_EXTRA_M = 50.0
#: Candidates lie within this many position sigmas of the fix (at least 25 m): at 3 sigma
#: one fix in a few hundred loses its true edge, and the trace can lock onto a parallel street.
CANDIDATE_SIGMAS = 4.0
#: Along-track drift (m/s) of a position dead-reckoned from the reported speed: speed error
#: and acceleration within the interval.
ALONG_TRACK_NOISE_MPS = 1.5
#: Side (m) of the square cells lane segments are indexed by, for the candidate search.
CELL_M = 100.0
#: Smallest position sigma (m) the emission uses, however good the receiver claims to be.
MIN_SIGMA_M = 3.0


class MatchError(RouteError):
    """A fix cannot be matched: no usable lane near it, or a value that is not a position."""


@dataclass(frozen=True)
class MatchedPlace:
    """Best place of the current fix.

    Attributes
    ----------
    edge_id
        The matched edge.
    offset_m
        Position along it (m from its start, within ``[0, edge length]``): the fix's
        projection, filtered with the reported speed when there is one.
    distance_m
        Distance from the fix to the matched lane (m).
    log_prob
        Its forward log-probability relative to the best (0 for the best; for diagnostics).
    """

    edge_id: str
    offset_m: float
    distance_m: float
    log_prob: float


@dataclass(frozen=True)
class MatchState:
    """The forward pass after a fix: its candidates (graph node, filtered offset m and its
    variance m^2, the fix's lane point x/y m) and their log-probabilities, the fix's time (s), position (m) and speed (m/s). Empty
    (``MatchState()``) before the first fix of a trace."""

    nodes: tuple[int, ...] = ()
    offsets_m: tuple[float, ...] = ()
    offset_var_m2: tuple[float, ...] = ()
    xy_m: tuple[tuple[float, float], ...] = ()
    log_probs: tuple[float, ...] = ()
    time_s: float | None = None
    fix_xy_m: tuple[float, float] | None = None
    speed_mps: float | None = None


def _length_matrix(net: Network, graph: RoutingGraph) -> csr_matrix:
    """Arc ``i -> j`` = length of ``j`` + junction passage (m); a U-turn onto the reverse
    edge costs ``U_TURN_EXTRA_M`` more (it would otherwise be the cheapest way between two
    carriageways near a junction)."""
    cached = graph._cache.get("match_length_matrix")
    if cached is None:
        tail, head = np.asarray(graph.arc_tail), np.asarray(graph.arc_head)
        w = np.asarray(graph.length_m, dtype=float)[head] + np.asarray(graph.passage_m, float)
        ends = [(net.edges[e].from_junction, net.edges[e].to_junction) for e in graph.edge_ids]
        u_turn = np.fromiter(
            (ends[a] == ends[b][::-1] for a, b in zip(tail, head, strict=True)), bool, len(tail)
        )
        w = w + U_TURN_EXTRA_M * u_turn
        n = len(graph.edge_ids)
        cached = csr_matrix((np.maximum(w, 1e-3), (tail, head)), (n, n))
        graph._cache["match_length_matrix"] = cached
    return cached  # type: ignore[return-value]


@dataclass(frozen=True)
class _Candidates:
    nodes: np.ndarray  # graph node per candidate
    dist_m: np.ndarray  # fix -> lane distance
    offset_m: np.ndarray  # along the edge
    xy_m: np.ndarray  # (k, 2) lane point nearest the fix
    angle_rad: np.ndarray  # driving direction of that lane segment (math angle)


def _cell_index(seg) -> dict[tuple[int, int], np.ndarray]:
    """Lane segment indices per ``CELL_M`` square their bounding box touches (built once)."""
    x1, y1, dx, dy = seg[:4]
    lo_x, hi_x = (
        np.floor(np.minimum(x1, x1 + dx) / CELL_M),
        np.floor(np.maximum(x1, x1 + dx) / CELL_M),
    )
    lo_y, hi_y = (
        np.floor(np.minimum(y1, y1 + dy) / CELL_M),
        np.floor(np.maximum(y1, y1 + dy) / CELL_M),
    )
    cells: dict[tuple[int, int], list[int]] = {}
    for k, (ax, bx, ay, by) in enumerate(zip(lo_x, hi_x, lo_y, hi_y, strict=True)):
        for cx in range(int(ax), int(bx) + 1):
            for cy in range(int(ay), int(by) + 1):
                cells.setdefault((cx, cy), []).append(k)
    return {c: np.array(v, dtype=np.intp) for c, v in cells.items()}


def _cells(v_m: float, radius_m: float) -> range:
    return range(math.floor((v_m - radius_m) / CELL_M), math.floor((v_m + radius_m) / CELL_M) + 1)


def _near_segments(graph: RoutingGraph, seg, x_m: float, y_m: float, radius_m: float):
    """Indices of the lane segments in the cells a circle of ``radius_m`` touches."""
    index = graph._cache.get("match_cells")
    if index is None:
        index = graph._cache["match_cells"] = _cell_index(seg)
    xs, ys = _cells(x_m, radius_m), _cells(y_m, radius_m)
    if len(xs) * len(ys) > len(index):  # a radius wider than the net: scan every segment
        return np.arange(len(seg[0]))
    found = [index[c] for c in itertools.product(xs, ys) if c in index]
    return np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.intp)


def _candidates(net: Network, graph: RoutingGraph, x_m: float, y_m: float, radius_m: float):
    seg = _segments(net, graph)
    if seg is None:
        raise MatchError(f"no lane with a shape allows vehicle class {graph.vclass!r}")
    idx = _near_segments(graph, seg, x_m, y_m, radius_m)
    x1, y1, dx, dy, seg_len2, lane, cum, scale = (a[idx] for a in seg)
    t = np.clip(((x_m - x1) * dx + (y_m - y1) * dy) / seg_len2, 0.0, 1.0)
    px, py = x1 + t * dx, y1 + t * dy
    dist = np.hypot(px - x_m, py - y_m)
    near = np.flatnonzero(dist <= radius_m)
    # nearest segment per edge: sort by distance, keep each node's first
    near = near[np.argsort(dist[near], kind="stable")]
    nodes = np.asarray(graph.lane_node)[lane[near]]
    _, first = np.unique(nodes, return_index=True)
    k = near[first]
    nodes = nodes[first]
    length = np.asarray(graph.length_m, dtype=float)[nodes]
    offset = np.minimum((cum[k] + t[k] * np.sqrt(seg_len2[k])) * scale[k], length)
    return _Candidates(
        nodes, dist[k], offset, np.column_stack([px[k], py[k]]), np.arctan2(dy[k], dx[k])
    )


def _direction_rad(state: MatchState, x_m, y_m, time_s, heading_deg, speed_mps, sigma_m):
    """(math angle rad, kappa) of the vehicle's direction of travel, or None if unknown."""
    if heading_deg is not None and math.isfinite(heading_deg):
        if speed_mps is None or speed_mps > MIN_HEADING_SPEED_MPS:
            kappa = KAPPA_HEADING if speed_mps is not None else KAPPA_TRACK
            return math.radians(90.0 - heading_deg), kappa  # compass -> math angle
        return None
    if state.fix_xy_m is None or state.time_s is None:
        return None
    ddx, ddy = x_m - state.fix_xy_m[0], y_m - state.fix_xy_m[1]
    gap_s = time_s - state.time_s
    if 0.0 < gap_s <= TRACK_MAX_GAP_S and math.hypot(ddx, ddy) >= TRACK_MIN_SIGMAS * sigma_m:
        return math.atan2(ddy, ddx), KAPPA_TRACK
    return None


def _transitions(net, graph, state, c: _Candidates, time_s, speed_mps, beta_m, speed_beta_m):
    """Log transition probability, shape (previous candidates, current candidates)."""
    dt = max(time_s - (state.time_s if state.time_s is not None else time_s), 0.1)
    prev = np.asarray(state.nodes)
    off_a = np.asarray(state.offsets_m)[:, None]
    xy_a = np.asarray(state.xy_m)
    length = np.asarray(graph.length_m, dtype=float)
    # Dijkstra's distance runs to the *end* of a candidate's edge: the search reaches as far
    # as the vehicle can drive, plus a U-turn, plus the longest candidate edge
    reach = max(2.0 * MAX_SPEED_MPS * dt, 200.0) + U_TURN_EXTRA_M
    limit = reach + float(length[c.nodes].max())
    dd = dijkstra(_length_matrix(net, graph), indices=prev, limit=limit)[:, c.nodes]
    same = prev[:, None] == c.nodes[None, :]
    via = length[prev][:, None] - off_a + dd - length[c.nodes][None, :] + c.offset_m[None, :]
    # along one edge the route is signed: a fix projected behind the last one (noise, or a
    # standing vehicle) costs twice its step back, instead of a loop round the block
    route = np.where(same, c.offset_m[None, :] - off_a, via)
    gc = np.hypot(c.xy_m[None, :, 0] - xy_a[:, None, 0], c.xy_m[None, :, 1] - xy_a[:, None, 1])
    driven = None
    with np.errstate(invalid="ignore"):
        trans = -np.abs(route - gc) / beta_m
        if speed_mps is not None:
            v = speed_mps if state.speed_mps is None else 0.5 * (speed_mps + state.speed_mps)
            driven = v * dt
            trans = trans - np.abs(route - driven) / speed_beta_m
    return np.where(np.isfinite(route), trans, -np.inf), route, driven, dt


def _track_offsets(state, c: _Candidates, best, route, driven, dt, sigma_m, length):
    """Offsets (m) and their variances (m^2) along each candidate's edge: its fix's projection,
    filtered (a scalar Kalman step) with where its best predecessor's speed x interval puts it.

    The projection carries the fix's full along-track error; the filtered offset makes the
    next step's route distances (and the junction early/late decision) far less noisy.
    """
    raw_var = np.full(len(c.nodes), sigma_m**2)
    if driven is None or best is None:
        return c.offset_m, raw_var
    cols = np.arange(len(c.nodes))
    pred_var = np.asarray(state.offset_var_m2)[best] + (ALONG_TRACK_NOISE_MPS * dt) ** 2
    innov = driven - route[best, cols]  # predicted minus measured position, along the path
    gain = sigma_m**2 / (pred_var + sigma_m**2)  # weight of the prediction
    ok = np.isfinite(innov) & (np.abs(innov) <= 3.0 * np.sqrt(pred_var + sigma_m**2))
    offset = np.where(
        ok, np.clip(c.offset_m + gain * np.nan_to_num(innov), 0.0, length), c.offset_m
    )
    return offset, np.where(ok, gain * pred_var, raw_var)


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
    beta_m: float = 100.0,
    route_bonus: float = 1.0,
    speed_beta_m: float = 30.0,
) -> tuple[MatchState, MatchedPlace]:
    """One lag-0 forward step of the HMM for a fix at ``(x_m, y_m)`` (network m).

    Parameters
    ----------
    net, graph
        The network and its routing graph (its vehicle class decides the usable lanes).
    state
        The state the previous fix of this trace returned; ``MatchState()`` for a new trace.
    x_m, y_m, time_s
        The fix (network m) and its time (s, any origin, increasing along the trace).
    heading_deg, speed_mps
        Reported compass heading (deg, 0 = north, clockwise) and speed (m/s), either may be
        None. The heading is used above ``MIN_HEADING_SPEED_MPS`` (or at a weaker weight
        when the speed is unknown); without one the bearing from the previous fix is used
        when the two are far enough apart.
    accuracy_m
        1-sigma position error (m, floored at ``MIN_SIGMA_M``).
    route_edges
        The planned route: its edges get a log-probability bonus ``route_bonus``.
    beta_m, speed_beta_m
        Scales (m) of the transition penalties on |route - straight-line distance| and on
        |route - speed x interval|.

    Returns
    -------
    tuple[MatchState, MatchedPlace]
        The state to pass with the next fix, and the best place of this one.

    Raises
    ------
    MatchError
        A non-finite position, time, accuracy or speed, or no usable lane within
        ``max(CANDIDATE_SIGMAS sigma, 25 m)`` of the fix. ``state`` is not changed (it is immutable): the
        caller may go on with it and the next fix.
    """
    _check(x_m, y_m, time_s, speed_mps, accuracy_m)
    sigma = max(float(accuracy_m), MIN_SIGMA_M)
    radius = max(CANDIDATE_SIGMAS * sigma, 25.0)
    c = _candidates(net, graph, x_m, y_m, radius)
    if len(c.nodes) == 0:
        raise MatchError(
            f"no lane usable by {graph.vclass!r} within {radius:.0f} m of ({x_m:.1f}, {y_m:.1f}) "
            f"in {graph.where}; check the position and its coordinate system (network x/y m)"
        )
    emis = -0.5 * (c.dist_m / sigma) ** 2
    direction = _direction_rad(state, x_m, y_m, time_s, heading_deg, speed_mps, sigma)
    if direction is not None:
        h, kappa = direction
        emis = emis + kappa * (np.cos(c.angle_rad - h) - 1.0)
    if route_edges:
        on_route = np.fromiter((graph.edge_ids[n] in route_edges for n in c.nodes), bool)
        emis = emis + route_bonus * on_route
    best = route = driven = None
    dt = 0.0
    if state.nodes:
        trans, route, driven, dt = _transitions(
            net, graph, state, c, time_s, speed_mps, beta_m, speed_beta_m
        )
        score = np.asarray(state.log_probs)[:, None] + trans
        fwd = score.max(axis=0)
        best = score.argmax(axis=0)
        if not np.isfinite(fwd).any():
            fwd = np.zeros(len(c.nodes))  # trace broken (no route joins it): restart
            best = None
        fwd = fwd + emis
    else:
        fwd = emis
    length = np.asarray(graph.length_m, dtype=float)[c.nodes]
    offset, offset_var = _track_offsets(state, c, best, route, driven, dt, sigma, length)
    fwd = fwd - np.max(fwd)
    keep = np.isfinite(fwd)
    k = int(np.argmax(fwd))
    new = MatchState(
        nodes=tuple(int(n) for n in c.nodes[keep]),
        offsets_m=tuple(float(o) for o in offset[keep]),
        offset_var_m2=tuple(float(v) for v in offset_var[keep]),
        xy_m=tuple((float(p[0]), float(p[1])) for p in c.xy_m[keep]),
        log_probs=tuple(float(v) for v in fwd[keep]),
        time_s=float(time_s),
        fix_xy_m=(float(x_m), float(y_m)),
        speed_mps=None if speed_mps is None else float(speed_mps),
    )
    place = MatchedPlace(
        graph.edge_ids[int(c.nodes[k])], float(offset[k]), float(c.dist_m[k]), float(fwd[k])
    )
    return new, place


def _check(x_m, y_m, time_s, speed_mps, accuracy_m) -> None:
    if not (math.isfinite(x_m) and math.isfinite(y_m)):
        raise MatchError(f"position ({x_m}, {y_m}) is not finite; send network x/y in m")
    if not math.isfinite(time_s):
        raise MatchError(f"fix at ({x_m:.1f}, {y_m:.1f}) has a non-finite time {time_s}")
    if not (math.isfinite(accuracy_m) and accuracy_m >= 0):
        raise MatchError(
            f"fix at ({x_m:.1f}, {y_m:.1f}): accuracy {accuracy_m} m is not a number >= 0"
        )
    if speed_mps is not None and not (math.isfinite(speed_mps) and speed_mps >= 0):
        raise MatchError(f"fix at ({x_m:.1f}, {y_m:.1f}): speed {speed_mps} m/s is not >= 0")
