"""Map matching of noisy ambulance fixes: nearest-lane snap, clearway's HMM, leuvenmapmatching.

Ground truth: an ambulance drives a route at 6-16 m/s (:func:`speed_at`) on the leftmost lane of each edge
(the lane nearest the opposite carriageway, the hardest for a wrong-side match); it is sampled
at 1 Hz and 0.2 Hz, and each fix gets Gaussian position error (sigma 5 and 15 m, per axis) and
a heading and speed error (``HEADING_SIGMA_DEG``, ``SPEED_SIGMA_MPS``). Every matcher sees the same fixes, one at a time
(online, lag 0), in one process, on (i) a generated 5x5 grid (netgenerate, as in the tests)
and (ii) Berlin-Adlershof (the ``berlin`` priority scenario's network: divided roads and
parallel streets). Routes are random origin/destination pairs (>= ``MIN_ROUTE_M``) per seed.

Matchers
--------
snap     :func:`clearway.network.snap.snap_to_edge` (nearest usable lane, no history)
hmm      :func:`clearway.network.matching.match_step` with the planned route as prior (what
         the request book runs); ``hmm-noprior`` without the route, ``hmm-noheading``
         without the fixes' heading (the AVL unit sends none, or the vehicle stands)
leuven   ``leuvenmapmatching`` DistanceMatcher on an InMemMap of the edges' centre lines in
         the net's x/y metres, fed one fix more per step (``match(..., expand=True)``), its
         last emitting state taken as the match (its map build time is reported apart);
         ``leuven-offline`` the whole trace in one pass with hindsight (a reference only)

Metrics per fix: on the true edge, on the opposite direction (wrong side), on another edge of
the planned route (a junction early/late), on a different street, unmatched; per-fix time (ms
p50/p99); corridor flips = runs of >= 2 consecutive fixes matched off the planned route.

Run alone: ``.venv/bin/python bench/matching_bench.py`` (writes bench/matching.json and
bench/matching.md), with a sweep of our HMM's parameters on the same fixes (``--no-sweep``
skips it). ``make bench`` runs it as the ``matching`` case.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEEDS = (1, 2, 3, 4, 5)
RATES_HZ = (1.0, 0.2)
SIGMAS_M = (5.0, 15.0)
SPEED_MPS = 11.0  # mean; it swings by SPEED_SWING_MPS either way
SPEED_SWING_MPS = 5.0
HEADING_SIGMA_DEG = 10.0
SPEED_SIGMA_MPS = 0.5
MIN_ROUTE_M = 1500.0
MAX_ROUTE_M = 3000.0
MATCHERS = ("snap", "hmm", "hmm-noprior", "hmm-noheading", "leuven", "leuven-offline")
#: Fix -> lane angle beyond which a wrong match counts as the opposite direction (deg).
OPPOSITE_DEG = 135.0
OPPOSITE_NEAR_M = 30.0


@dataclass(frozen=True)
class Fix:
    """One noisy fix with its ground truth (true edges: two while crossing a junction)."""

    x_m: float
    y_m: float
    time_s: float
    heading_deg: float
    speed_mps: float
    true_xy_m: tuple[float, float]
    true_heading_deg: float
    true_edges: frozenset[str]


# -- networks and traces -------------------------------------------------------------------
def networks(out_dir: Path) -> dict[str, Path]:
    """The generated grid (built into ``out_dir`` once) and the Berlin scenario's network."""
    from clearway.evaluation.priority_scenarios import BERLIN_NET
    from clearway.sim.sumo_env import sumo_binary, sumo_home

    out_dir.mkdir(parents=True, exist_ok=True)
    grid = out_dir / "matching-grid5.net.xml"
    if not grid.exists():
        subprocess.run(
            [sumo_binary("netgenerate"), "--grid", "--grid.number", "5", "--grid.length", "200",
             "--default.lanenumber", "2", "--tls.guess", "true", "-o", str(grid)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return {"grid5": grid, "berlin": sumo_home() / BERLIN_NET}


def random_route(graph, rng: np.random.Generator) -> tuple[str, ...]:
    """A fastest route between random usable edges, ``MIN_ROUTE_M``..``MAX_ROUTE_M`` long."""
    from clearway.errors import RouteError
    from clearway.network.routing import fastest_route

    usable = np.flatnonzero(graph.usable)
    for _ in range(500):
        a, b = rng.choice(usable, 2, replace=False)
        try:
            r = fastest_route(graph, graph.edge_ids[a], graph.edge_ids[b])
        except RouteError:
            continue
        length = float(sum(graph.length_m[graph.index[e]] for e in r.edges))
        if MIN_ROUTE_M <= length <= MAX_ROUTE_M:
            return tuple(r.edges)
    raise RuntimeError("no random route of the wanted length in 500 tries")


def _drive_lane(net, graph, edge_id: str):
    usable = set(graph.lane_ids)
    lanes = [lid for lid in net.edges[edge_id].lane_ids if lid in usable]
    return net.lanes[lanes[-1]]  # SUMO numbers lanes from the right: the last is the leftmost


def true_path(
    net, graph, route: Sequence[str]
) -> list[tuple[np.ndarray, np.ndarray, frozenset[str]]]:
    """The driven polyline as (start, end, true edges) pieces; junction gaps carry both edges."""
    pieces: list[tuple[np.ndarray, np.ndarray, frozenset[str]]] = []
    prev_end, prev_edge = None, None
    for e in route:
        shape = np.asarray(_drive_lane(net, graph, e).shape, dtype=float)
        if prev_end is not None and np.hypot(*(shape[0] - prev_end)) > 0.01:
            pieces.append((prev_end, shape[0], frozenset((prev_edge, e))))
        pieces += [(p, q, frozenset((e,))) for p, q in zip(shape[:-1], shape[1:], strict=True)]
        prev_end, prev_edge = shape[-1], e
    return pieces


def speed_at(t_s: float, phase: float) -> float:
    """True speed (m/s) at ``t_s``: between 6 and 16 m/s over a 40 s cycle (an ambulance
    slowing for junctions and speeding up between them)."""
    return SPEED_MPS + SPEED_SWING_MPS * math.sin(2.0 * math.pi * t_s / 40.0 + phase)


def sample(pieces, period_s: float, sigma_m: float, rng: np.random.Generator) -> list[Fix]:
    """Fixes every ``period_s`` along the pieces, driven at :func:`speed_at`, with Gaussian
    position, heading and speed error."""
    lengths = np.array([np.hypot(*(q - p)) for p, q, _ in pieces])
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    phase = float(rng.uniform(0, 2 * math.pi))
    out: list[Fix] = []
    s, t = 0.0, 0.0
    while s < cum[-1]:
        k = min(int(np.searchsorted(cum, s, side="right") - 1), len(pieces) - 1)
        p, q, edges = pieces[k]
        f = (s - cum[k]) / lengths[k] if lengths[k] > 0 else 0.0
        xy = p + f * (q - p)
        hdg = (90.0 - math.degrees(math.atan2(q[1] - p[1], q[0] - p[0]))) % 360.0
        out.append(Fix(
            float(xy[0] + rng.normal(0, sigma_m)), float(xy[1] + rng.normal(0, sigma_m)), t,
            float((hdg + rng.normal(0, HEADING_SIGMA_DEG)) % 360.0),
            max(speed_at(t, phase) + float(rng.normal(0, SPEED_SIGMA_MPS)), 0.0),
            (float(xy[0]), float(xy[1])), hdg, edges,
        ))  # fmt: skip
        for _ in range(10):  # integrate the speed over the interval in tenths
            s += speed_at(t, phase) * period_s / 10.0
            t += period_s / 10.0
    return out


# -- the matchers --------------------------------------------------------------------------
def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    """(wall s, this thread's CPU s) since ``t0``: on a shared machine the wall time's tail
    is other processes' time slices, the CPU time is the matcher's own."""
    return time.perf_counter() - t0[0], time.thread_time() - t0[1]


#: (fixes, sigma m, planned route) -> (matched edge per fix, (wall s, CPU s) per fix)
Matcher = Callable[
    [Sequence[Fix], float, frozenset[str]], tuple[list[str | None], list[tuple[float, float]]]
]


def snap_matcher(net, graph) -> Matcher:
    from clearway.errors import RouteError
    from clearway.network.snap import snap_to_edge

    def run(fixes, sigma_m, route):
        edges, times = [], []
        for f in fixes:
            t0 = _clock()
            try:
                e = snap_to_edge(net, graph, f.x_m, f.y_m, max_distance_m=max(3 * sigma_m, 25.0))[0]
            except RouteError:
                e = None
            times.append(_since(t0))
            edges.append(e)
        return edges, times

    return run


def hmm_matcher(net, graph, *, prior: bool = True, heading: bool = True, **params) -> Matcher:
    from clearway.network.matching import MatchError, MatchState, match_step

    def run(fixes, sigma_m, route):
        state, edges, times = MatchState(), [], []
        for f in fixes:
            t0 = _clock()
            try:
                state, m = match_step(
                    net, graph, state, f.x_m, f.y_m, f.time_s, f.heading_deg if heading else None, f.speed_mps, sigma_m,
                    route_edges=route if prior else frozenset(), **params,
                )  # fmt: skip
                e = m.edge_id
            except MatchError:
                e = None
            times.append(_since(t0))
            edges.append(e)
        return edges, times

    return run


def leuven_map(net, graph):
    """An InMemMap of every usable edge's centre line (x/y m) and its segment -> edge labels."""
    from leuvenmapmatching.map.inmem import InMemMap

    lmap = InMemMap("clearway", use_latlon=False)
    label: dict[tuple[int, int], str] = {}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    nid = 0
    for node in np.flatnonzero(graph.usable):
        e = graph.edge_ids[node]
        lanes = net.edges[e].lane_ids
        # the middle lane's centre line: the edge as one polyline, as OSM would give it
        shape = net.lanes[lanes[len(lanes) // 2]].shape
        ids = []
        for x, y in shape:
            lmap.add_node(nid, (y, x))
            ids.append(nid)
            nid += 1
        for a, b in zip(ids[:-1], ids[1:], strict=True):
            lmap.add_edge(a, b)
            label[(a, b)] = e
        first[int(node)], last[int(node)] = ids[0], ids[-1]
    for tail, head in zip(graph.arc_tail, graph.arc_head, strict=True):
        a, b = last.get(int(tail)), first.get(int(head))
        if a is not None and b is not None:
            lmap.add_edge(a, b)  # the junction passage: counted as the downstream edge
            label[(a, b)] = graph.edge_ids[int(head)]
    return lmap, label


def leuven_matcher(lmap, label, *, offline: bool = False) -> Matcher:
    """Online: one fix more per ``match(..., expand=True)``, the last emitting state taken;
    a lost trace (no state left) restarts from the next fix. ``offline``: the whole trace in
    one Viterbi pass with hindsight (a reference the online use cannot reach; per-fix time
    is the pass over the fix count)."""
    from leuvenmapmatching.matcher.distance import DistanceMatcher

    logging.getLogger("be.kuleuven.cs.dtai.mapmatching").setLevel(logging.ERROR)

    def run(fixes, sigma_m, route):
        radius = max(3 * sigma_m, 25.0)

        def fresh():
            return DistanceMatcher(
                lmap, obs_noise=sigma_m, max_dist=radius, max_dist_init=radius,
                non_emitting_states=True, max_lattice_width=8,
            )  # fmt: skip

        def label_of(m):
            return label.get((m.edge_m.l1, m.edge_m.l2))

        if offline:
            matcher = fresh()
            t0 = _clock()
            matcher.match([(f.y_m, f.x_m) for f in fixes])
            per_fix = tuple(t / len(fixes) for t in _since(t0))
            by_obs = {m.obs: label_of(m) for m in matcher.lattice_best or () if m.is_emitting()}
            return [by_obs.get(k) for k in range(len(fixes))], [per_fix] * len(fixes)
        matcher, path = fresh(), []
        edges, times = [], []
        for f in fixes:
            path.append((f.y_m, f.x_m))
            t0 = _clock()
            try:
                matcher.match(list(path), expand=len(path) > 1)
                last = len(path) - 1
                best = [m for m in matcher.lattice_best or () if m.obs == last and m.is_emitting()]
            except Exception:  # noqa: BLE001 - the library raises bare Exception on a broken path
                best = []
            times.append(_since(t0))
            edges.append(label_of(best[-1]) if best else None)
            if not best:
                matcher, path = fresh(), []  # lost the trace: start afresh from the next fix
        return edges, times

    return run


# -- scoring -------------------------------------------------------------------------------
def _lane_angle_at(net, graph, edge_id: str, x: float, y: float) -> tuple[float, float]:
    """(distance m, driving direction deg compass) of the edge's nearest lane segment."""
    best = (math.inf, 0.0)
    for lid in net.edges[edge_id].lane_ids:
        sh = np.asarray(net.lanes[lid].shape, dtype=float)
        for p, q in zip(sh[:-1], sh[1:], strict=True):
            d = q - p
            t = float(np.clip(np.dot((x, y) - p, d) / max(np.dot(d, d), 1e-12), 0, 1))
            dist = float(np.hypot(*(p + t * d - (x, y))))
            if dist < best[0]:
                best = (dist, (90.0 - math.degrees(math.atan2(d[1], d[0]))) % 360.0)
    return best


def classify(net, graph, edge: str | None, fix: Fix, plan: tuple[str, ...]) -> str:
    """``true``, ``wrong_side``, ``behind`` / ``ahead`` (an earlier / later edge of the plan:
    a junction passed late / early), ``other`` (street) or ``none``."""
    route = frozenset(plan)
    if edge is None:
        return "none"
    if edge in fix.true_edges:
        return "true"
    e = net.edges[edge]
    for t in fix.true_edges:
        te = net.edges[t]
        if (e.from_junction, e.to_junction) == (te.to_junction, te.from_junction):
            return "wrong_side"
    dist, ang = _lane_angle_at(net, graph, edge, *fix.true_xy_m)
    diff = abs((ang - fix.true_heading_deg + 180.0) % 360.0 - 180.0)
    if dist <= OPPOSITE_NEAR_M and diff >= OPPOSITE_DEG:
        return "wrong_side"
    true_at = [plan.index(t) for t in fix.true_edges if t in route]
    if edge not in route or not true_at:  # another street (on a detour: the plan's)
        return "other"
    return "behind" if plan.index(edge) < min(true_at) else "ahead"


def corridor_flips(edges: Sequence[str | None], route: frozenset[str]) -> int:
    """Runs of >= 2 consecutive fixes matched off the planned route (unmatched breaks a run)."""
    flips, run = 0, 0
    for e in edges:
        run = run + 1 if e is not None and e not in route else 0
        flips += run == 2
    return flips


KINDS = ("true", "wrong_side", "behind", "ahead", "other", "none")


def score(net, graph, fixes, edges, times, plan: tuple[str, ...]) -> dict:
    route = frozenset(plan)
    kinds = [classify(net, graph, e, f, plan) for e, f in zip(edges, fixes, strict=True)]
    n = len(kinds)
    stuck = sum(
        e is not None and e in route and not (f.true_edges & route)
        for e, f in zip(edges, fixes, strict=True)
    )
    return {
        "fixes": n,
        "stuck_on_plan": stuck,
        **{k: kinds.count(k) for k in KINDS},
        "flips": corridor_flips(edges, route),
        "wall_ms": [1e3 * t[0] for t in times],
        "cpu_ms": [1e3 * t[1] for t in times],
    }


def _summary(rows: list[dict]) -> dict:
    n = sum(r["fixes"] for r in rows)
    ms = np.concatenate([r["wall_ms"] for r in rows])
    cpu_ms = np.concatenate([r["cpu_ms"] for r in rows])
    out = {"fixes": n, "traces": len(rows)}
    for k in KINDS:
        out[k] = sum(r[k] for r in rows) / n
    out["stuck_on_plan"] = sum(r["stuck_on_plan"] for r in rows) / n
    out["flips"] = sum(r["flips"] for r in rows)
    out["traces_with_flips"] = sum(r["flips"] > 0 for r in rows)
    out["ms_p50"] = float(np.percentile(ms, 50))
    out["ms_p99"] = float(np.percentile(ms, 99))
    out["cpu_ms_p99"] = float(np.percentile(cpu_ms, 99))
    return out


# -- the run -------------------------------------------------------------------------------
def detour_route(graph, route: tuple[str, ...], rng: np.random.Generator) -> tuple[str, ...] | None:
    """The route's origin to its destination through a random edge off it (a driver leaving
    the plan), or None when no such detour of a sensible length exists."""
    from clearway.errors import RouteError
    from clearway.network.routing import fastest_route

    plan = set(route)
    usable = [int(n) for n in np.flatnonzero(graph.usable) if graph.edge_ids[n] not in plan]
    for _ in range(200):
        via = graph.edge_ids[int(rng.choice(usable))]
        try:
            a = fastest_route(graph, route[0], via).edges
            b = fastest_route(graph, via, route[-1]).edges
        except RouteError:
            continue
        driven = (*a, *b[1:])
        length = float(sum(graph.length_m[graph.index[e]] for e in driven))
        if len(set(driven)) == len(driven) and length <= 1.5 * MAX_ROUTE_M:
            return driven
    return None


def traces(net, graph, seeds=SEEDS, *, detours: bool = False):
    """(rate Hz, sigma m, seed, planned route, fixes) for every setting; one route per seed.

    With ``detours`` the fixes follow a detour off the planned route instead (the route prior
    must not hold the match on the plan once the vehicle has left it)."""
    for seed in seeds:
        rng = np.random.default_rng(seed)
        route = random_route(graph, rng)
        driven = detour_route(graph, route, rng) if detours else route
        if driven is None:
            continue
        pieces = true_path(net, graph, driven)
        for rate in RATES_HZ:
            for sigma in SIGMAS_M:
                noise = np.random.default_rng([seed, int(rate * 10), int(sigma)])
                yield rate, sigma, seed, route, sample(pieces, 1.0 / rate, sigma, noise)


def case_matching(out_dir: Path, seeds=SEEDS, matchers=MATCHERS) -> dict:
    """Every matcher on every trace of both networks; per network x rate x sigma summaries."""
    from clearway.network import load_network
    from clearway.network.graph import build_routing_graph

    result: dict = {"seeds": list(seeds), "speed_mps": SPEED_MPS, "heading_sigma_deg": HEADING_SIGMA_DEG,
                    "networks": {}, "summary": {}}  # fmt: skip
    t_all = time.perf_counter()
    for name, path in networks(out_dir).items():
        net = load_network(path)
        graph = build_routing_graph(net, "emergency")
        runs: dict[str, Matcher] = {
            "snap": snap_matcher(net, graph),
            "hmm": hmm_matcher(net, graph),
            "hmm-noprior": hmm_matcher(net, graph, prior=False),
            "hmm-noheading": hmm_matcher(net, graph, heading=False),
        }
        info = {"edges": int(graph.usable.sum())}
        if any(m.startswith("leuven") for m in matchers):
            t0 = time.perf_counter()
            lmap, label = leuven_map(net, graph)
            info["leuven_map_build_s"] = time.perf_counter() - t0
            runs["leuven"] = leuven_matcher(lmap, label)
            runs["leuven-offline"] = leuven_matcher(lmap, label, offline=True)
        # warm the caches (segment arrays, length matrix) outside the per-fix timings
        warm = next(traces(net, graph, seeds[:1]))
        for m in matchers:
            runs[m](warm[4][:3], warm[1], frozenset(warm[3]))
        rows: dict[tuple, list[dict]] = {}
        for kind in ("plan", "detour"):
            # a detour only tells the route prior apart: the others never see the plan
            names = matchers if kind == "plan" else [m for m in matchers if m.startswith("hmm")]
            for rate, sigma, _seed, route, fixes in traces(
                net, graph, seeds, detours=kind == "detour"
            ):
                rset = frozenset(route)
                for m in names:
                    gc.collect()  # one matcher's garbage must not pause the next one's timings
                    edges, times = runs[m](fixes, sigma, rset)
                    rows.setdefault((kind, rate, sigma, m), []).append(
                        score(net, graph, fixes, edges, times, route)
                    )
        result["networks"][name] = info
        for (kind, rate, sigma, m), rs in rows.items():
            result["summary"][f"{name}|{kind}|{rate:g}Hz|{sigma:g}m|{m}"] = _summary(rs)
    result["wall_s"] = time.perf_counter() - t_all
    return result


#: One parameter of our HMM varied at a time around the defaults (the tuning evidence).
SWEEP: tuple[dict, ...] = (
    {},
    {"beta_m": 30.0}, {"beta_m": 300.0},
    {"speed_beta_m": 10.0}, {"speed_beta_m": 100.0}, {"speed_beta_m": math.inf},
    {"route_bonus": 0.0}, {"route_bonus": 3.0},
)  # fmt: skip


def sweep(out_dir: Path, seeds=SEEDS) -> dict:
    """Our HMM under each :data:`SWEEP` setting on the same traces, summed over rates and
    sigmas per network and trace kind."""
    from clearway.network import load_network
    from clearway.network.graph import build_routing_graph

    out: dict = {}
    for name, path in networks(out_dir).items():
        net = load_network(path)
        graph = build_routing_graph(net, "emergency")
        all_traces = [
            (kind, *t) for kind in ("plan", "detour")
            for t in traces(net, graph, seeds, detours=kind == "detour")
        ]  # fmt: skip
        for params in SWEEP:
            run = hmm_matcher(net, graph, **params)
            rows: dict[str, list[dict]] = {}
            for kind, _rate, sigma, _seed, route, fixes in all_traces:
                edges, times = run(fixes, sigma, frozenset(route))
                rows.setdefault(kind, []).append(score(net, graph, fixes, edges, times, route))
            label = ", ".join(f"{k}={v:g}" for k, v in params.items()) or "defaults"
            for kind, rs in rows.items():
                out[f"{name}|{kind}|{label}"] = _summary(rs)
    return out


#: Table columns: header, summary key, format.
_COLUMNS = (
    ("true edge", "true", "{:.1%}"), ("wrong side", "wrong_side", "{:.1%}"),
    ("plan edge behind (late)", "behind", "{:.1%}"), ("plan edge ahead (early)", "ahead", "{:.1%}"),
    ("other street", "other", "{:.1%}"), ("unmatched", "none", "{:.1%}"),
    ("stuck on plan", "stuck_on_plan", "{:.1%}"), ("ms p50", "ms_p50", "{:.2f}"),
    ("ms p99", "ms_p99", "{:.2f}"), ("CPU ms p99", "cpu_ms_p99", "{:.2f}"),
)  # fmt: skip


def _table(keys: list[str], rows: list[tuple[list[str], dict, str]]) -> list[str]:
    head = [*keys, *(c[0] for c in _COLUMNS), "corridor flips (traces)"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * len(keys) + " ---: |" * (len(head) - len(keys)),
    ]
    for cells, s, flips in rows:
        vals = [fmt.format(s[k]) for _, k, fmt in _COLUMNS]
        lines.append("| " + " | ".join([*cells, *vals, flips]) + " |")
    return lines


def _flips(s: dict, kind: str) -> str:
    # leaving the plan is right on a detour: its flips say nothing
    return f"{s['flips']} ({s['traces_with_flips']}/{s['traces']})" if kind == "plan" else "-"


def markdown(res: dict) -> list[str]:
    lines = [
        f"Seeds {', '.join(map(str, res['seeds']))}; speed {res['speed_mps']:g} +- "
        f"{SPEED_SWING_MPS:g} m/s, heading error sigma {res['heading_sigma_deg']:g} deg, speed "
        f"error sigma {SPEED_SIGMA_MPS:g} m/s; one random route (1.5-3 km) per seed; the "
        f"comparison took {res['wall_s']:.0f} s.",
        "",
    ]
    for name, info in res["networks"].items():
        extra = (
            f", leuvenmapmatching map build {1e3 * info['leuven_map_build_s']:.0f} ms"
            if "leuven_map_build_s" in info else ""
        )  # fmt: skip
        lines.append(f"- {name}: {info['edges']} usable edges{extra}")
    lines += [
        "",
        "Trace `plan`: driven on the planned route; `detour`: driven off it through a random "
        "edge (the plan still given as prior; *stuck on plan* = fixes truly off the plan "
        "matched on it). Times per fix: wall clock (p99 includes other processes' time slices "
        "on a shared machine) and the matcher's own CPU time.",
        "",
    ]
    rows = []
    for key, s in res["summary"].items():
        cells = key.split("|")
        rows.append((cells, s, _flips(s, cells[1])))
    lines += _table(["network", "trace", "rate", "sigma", "matcher"], rows)
    if res.get("sweep"):
        lines += ["", "## HMM parameter sweep", "",
                  "All rates and sigmas together; one parameter changed from the defaults.", ""]  # fmt: skip
        rows = [(k.split("|"), v, _flips(v, k.split("|")[1])) for k, v in res["sweep"].items()]
        lines += _table(["network", "trace", "setting"], rows)
    return lines


def run(out_dir: Path, seeds=SEEDS, matchers=MATCHERS, *, with_sweep: bool = True) -> dict:
    """The comparison (and the sweep), written to bench/matching.json and bench/matching.md."""
    res = case_matching(out_dir, seeds, matchers)
    if with_sweep:
        res["sweep"] = sweep(out_dir, seeds=seeds)
    (HERE / "matching.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = ["# Map matching: snap vs clearway HMM vs leuvenmapmatching", "",
             "`.venv/bin/python bench/matching_bench.py` (or `make bench`, case `matching`)", "",
             *markdown(res)]  # fmt: skip
    (HERE / "matching.md").write_text("\n".join(lines) + "\n")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=len(SEEDS))
    ap.add_argument("--no-sweep", action="store_true", help="skip the beta_m/route_bonus sweep")
    ap.add_argument("--matchers", default=",".join(MATCHERS))
    args = ap.parse_args()
    seeds = tuple(range(1, args.seeds + 1))
    run(HERE / "out", seeds, tuple(args.matchers.split(",")), with_sweep=not args.no_sweep)
    print((HERE / "matching.md").read_text())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
