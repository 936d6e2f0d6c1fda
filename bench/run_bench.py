"""``make bench``: speed and memory of clearway, measured side by side in one run.

Every case runs in its own process (one libsumo simulation per process; clean peak memory).
Writes ``bench/results.json`` and ``bench/results.md`` and prints the table.

Cases
-----
sumo-bare        the ``sumo`` binary alone on the scenario (its own fixed-time programs)
loop-libsumo     clearway's control loop, fixed-time through the guard, monitor on, libsumo
loop-traci       the same through TraCI
load-network     load_network + build_intersections of a real city (Berlin, SUMO wheel)
guard-checks     SafetyGuard.check throughput on the grid's junctions
routing          fastest_route query time (median of 200 random pairs): Berlin and a 300x300 grid
priority         none / local / corridor on every named free-passage scenario, 5 seeds, with
                 the issue-4 targets checked (see bench/priority_bench.py)
scale-grid30     900-signal grid under max-pressure: clearway's part of a tick against SUMO's
                 step, µs per signal, peak RSS (see bench/scale_bench.py)
scale-lux        one hour of Luxembourg City imported from OSM (../shared): plain sumo against
                 clearway's loop under max-pressure, and clearway's share of the step
quality          normal-control time loss on Luxembourg City and Berlin, 5 seeds, ours against
                 SUMO's actuated/delay_based (see bench/quality_bench.py)
resco            the same on real cities with their own demand (RESCO: Ingolstadt, Cologne; from
                 the sumo-rl 1.4.5 wheel, fetched by bench/resco_fetch.py), 3 seeds, with wall
                 time against plain sumo (see bench/resco_bench.py)
avl              the corridor fed by an emulated AVL unit (GPS error, rate, latency, drops) on
                 the named scenarios (see bench/avl_bench.py; also writes bench/avl.md)
service          ``clearway serve`` on loopback: sustained position updates/s with every audit
                 record kept, request -> first approved corridor command latency under a
                 200 updates/s background (see bench/service_bench.py)
matching         map matching of noisy fixes: nearest-lane snap, our HMM, leuvenmapmatching on
                 a grid and Berlin (see bench/matching_bench.py; also writes bench/matching.md)
snmp             SNMPv3 on loopback: synthetic GET/SET, and a full tick of the real port
                 (FieldSignals) over 10/20/50 virtual NEMA controllers (see bench/snmp_bench.py)
field            the corridor through virtual NEMA controllers (phase controls only) against
                 the direct twin, unlimited and limited to the same phases' states, on the same
                 seeds (see bench/field_bench.py; bench/field.md)
reroute          the corridor with and without re-routing on the way, an incident on the
                 ambulance's route (see bench/reroute_bench.py)
pedestrians      none / local / corridor on the pedestrians scenario (walkers on every
                 crossing), 5 seeds (see bench/priority_bench.py)
transit          two bus lines with and without conditional transit priority, 3 seeds
                 (see bench/transit_bench.py)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from avl_bench import case_avl  # noqa: E402
from avl_bench import markdown as avl_markdown  # noqa: E402
from field_bench import case_field  # noqa: E402
from field_bench import markdown as field_markdown  # noqa: E402
from matching_bench import run as case_matching  # noqa: E402
from priority_bench import (  # noqa: E402
    case_pedestrians,
    case_priority,
    markdown,
    pedestrians_markdown,
)
from quality_bench import case_quality  # noqa: E402
from quality_bench import markdown as quality_markdown  # noqa: E402
from reroute_bench import case_reroute  # noqa: E402
from reroute_bench import markdown as reroute_markdown  # noqa: E402
from resco_bench import case_resco  # noqa: E402
from resco_bench import markdown as resco_markdown  # noqa: E402
from scale_bench import case_lux, case_scale  # noqa: E402
from scale_bench import markdown as scale_markdown  # noqa: E402
from service_bench import case_service  # noqa: E402
from service_bench import markdown as service_markdown  # noqa: E402
from snmp_bench import case_snmp  # noqa: E402
from snmp_bench import markdown as snmp_markdown  # noqa: E402
from transit_bench import case_transit  # noqa: E402
from transit_bench import markdown as transit_markdown  # noqa: E402

OUT = HERE / "out"


def _scenario(size: str, load: str, end_s: float):
    from clearway.sim.scenario import grid_scenario

    return grid_scenario(OUT / "scenarios", size=size, seed=1, end_s=end_s, load=load)


def case_sumo_bare(size: str, load: str, end_s: float) -> dict:
    from clearway.evaluation.metrics import read_tripinfo
    from clearway.sim.launch import sumo_command

    sc = _scenario(size, load, end_s)
    tripinfo = OUT / f"bare-{sc.name}.tripinfo.xml"
    cmd = sumo_command(sc, 1.0, tripinfo, OUT / "bare.log", ())
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    trips = read_tripinfo(tripinfo)
    return {
        "scenario": sc.name,
        "sim_s": end_s,
        "wall_s": wall,
        "sim_s_per_wall_s": end_s / wall,
        "peak_mb": peak,
        "arrived": trips.arrived,
        "mean_time_loss_s": trips.mean_time_loss_s,
    }


def case_loop(size: str, load: str, end_s: float, backend: str) -> dict:
    from clearway.evaluation.run import run_scenario

    sc = _scenario(size, load, end_s)
    r = run_scenario(sc, backend=backend, duration_s=end_s, out_dir=OUT / "runs")
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "scenario": sc.name,
        "sim_s": r.sim_s,
        "wall_s": r.wall_s,
        "sim_s_per_wall_s": r.sim_s_per_wall_s,
        "peak_mb": peak_self + (peak_child if backend == "traci" else 0.0),
        "safety_violations": r.safety_violations,
        "guard_rejections": r.guard_rejections,
        "teleports": r.teleports,
        "arrived": r.arrived,
        "mean_time_loss_s": r.mean_time_loss_s,
    }


def case_load_network() -> dict:
    import sumo

    from clearway.network import cache, load_network
    from clearway.signals.build import build_intersections

    path = Path(sumo.SUMO_HOME) / "tools" / "game" / "DRT" / "osm.net.xml"
    os.environ[cache.CACHE_ENV] = "off"
    t0 = time.perf_counter()
    load_network(path)
    parse_s = time.perf_counter() - t0
    del os.environ[cache.CACHE_ENV]
    load_network(path)  # into the cache, if it was not there
    t0 = time.perf_counter()
    net = load_network(path)
    t1 = time.perf_counter()
    models = build_intersections(net)
    t2 = time.perf_counter()
    return {
        "network": "Berlin DRT/osm.net.xml",
        "junctions": len(net.junctions),
        "signals": len(models),
        "load_s": parse_s,
        "cached_load_s": t1 - t0,
        "build_intersections_s": t2 - t1,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def case_guard_checks(size: str) -> dict:
    from clearway.network import load_network
    from clearway.signals.build import build_intersections
    from clearway.signals.safety import SafetyGuard, SignalCommand
    from clearway.signals.timers import SignalTimers
    from clearway.signals.transition import step_toward

    sc = _scenario(size, "moderate", 60.0)
    net = load_network(sc.net_file)
    models = build_intersections(net)
    guard = SafetyGuard(models)
    cases = []
    for sid, model in models.items():
        phases = [p.state for p in net.traffic_lights[sid].default_program.phases]
        timers = SignalTimers.start(sid, phases[0], 0.0).observe(phases[0], 60.0)
        for target in phases:
            cases.append((SignalCommand(sid, step_toward(model, timers, target, 60.0), 60.0), timers))
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 2.0:
        for cmd, timers in cases:
            guard.check(cmd, timers)
        n += len(cases)
    wall = time.perf_counter() - t0
    return {"checks": n, "checks_per_s": n / wall, "us_per_check": 1e6 * wall / n}


def _routing_times(net, pairs: int = 200, seed: int = 1) -> dict:
    import numpy as np

    from clearway.errors import RouteError
    from clearway.network.routing import build_routing_graph, fastest_route

    t0 = time.perf_counter()
    graph = build_routing_graph(net, "emergency")
    build_s = time.perf_counter() - t0
    usable = np.flatnonzero(graph.usable)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    fastest_route(graph, graph.edge_ids[usable[0]], graph.edge_ids[usable[-1]])  # landmarks
    first_s = time.perf_counter() - t0
    times, unreachable = [], 0
    for a, b in rng.choice(usable, size=(pairs, 2)):
        t0 = time.perf_counter()
        try:
            fastest_route(graph, graph.edge_ids[a], graph.edge_ids[b])
        except RouteError:
            unreachable += 1
        times.append(time.perf_counter() - t0)
    ms = 1e3 * np.array(times)
    return {
        "junctions": len(net.junctions),
        "graph_nodes": graph.n,
        "graph_arcs": int(graph.matrix.nnz),
        "build_graph_s": build_s,
        "first_query_s": first_s,
        "pairs": pairs,
        "unreachable_pairs": unreachable,
        "routing_ms_median": float(np.median(ms)),
        "routing_ms_p90": float(np.percentile(ms, 90)),
        "routing_ms_max": float(ms.max()),
    }


def case_routing(grid_n: int = 300) -> dict:
    import sumo

    from clearway.network import load_network

    berlin = load_network(Path(sumo.SUMO_HOME) / "tools" / "game" / "DRT" / "osm.net.xml")
    out = {"berlin": {"network": "Berlin DRT/osm.net.xml", **_routing_times(berlin)}}
    grid_file = OUT / f"routing-grid{grid_n}.net.xml"
    gen_s = 0.0
    if not grid_file.exists():  # ~2 min for 300x300: generated once, reused
        t0 = time.perf_counter()
        netgenerate = Path(sys.executable).parent / "netgenerate"
        subprocess.run(
            [str(netgenerate), "--grid", "--grid.number", str(grid_n), "--grid.length", "100",
             "--no-internal-links", "-o", str(grid_file)],
            check=True, capture_output=True,
        )  # fmt: skip
        gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    grid = load_network(grid_file)
    load_s = time.perf_counter() - t0
    out["grid"] = {
        "network": f"grid {grid_n}x{grid_n}, 100 m, no internal links",
        "generate_s": gen_s,
        "load_s": load_s,
        **_routing_times(grid),
    }
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


CASES = {
    "sumo-bare": lambda a: case_sumo_bare(a.size, a.load, a.end_s),  # SUMO's own programs
    "loop-libsumo": lambda a: case_loop(a.size, a.load, a.end_s, "libsumo"),
    "loop-traci": lambda a: case_loop(a.size, a.load, a.end_s, "traci"),
    "load-network": lambda a: case_load_network(),
    "guard-checks": lambda a: case_guard_checks(a.size),
    "routing": lambda a: case_routing(),
    "priority": lambda a: case_priority(OUT / "priority"),
    "scale-grid30": lambda a: case_scale(OUT),
    "scale-lux": lambda a: case_lux(OUT),
    "quality": lambda a: case_quality(OUT),
    "resco": lambda a: case_resco(OUT),
    "service": lambda a: case_service(OUT),
    "avl": lambda a: case_avl(OUT / "avl"),
    "matching": lambda a: case_matching(OUT),
    "snmp": lambda a: case_snmp(OUT),
    "field": lambda a: case_field(OUT / "field"),
    "reroute": lambda a: case_reroute(OUT / "reroute"),
    "pedestrians": lambda a: case_pedestrians(OUT / "pedestrians"),
    "transit": lambda a: case_transit(OUT / "transit"),
}


def _run_case(name: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--case", name, "--size", args.size, "--load", args.load,
           "--end-s", str(args.end_s)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench case {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: Key of results.json listing the cases ``--only`` measured after the full run.
REMEASURED = "remeasured"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--case", choices=sorted(CASES))
    ap.add_argument("--size", default="5x5")
    ap.add_argument("--load", default="moderate")
    ap.add_argument("--end-s", type=float, default=1800.0)
    ap.add_argument("--only", nargs="+", choices=sorted(CASES),
                    help="re-run these cases, keep the others from bench/results.json")  # fmt: skip
    ap.add_argument("--render", action="store_true",
                    help="only write bench/results.md again from bench/results.json")  # fmt: skip
    args = ap.parse_args()
    if args.case:
        print(json.dumps(CASES[args.case](args)))
        return
    if args.render:
        results = json.loads((HERE / "results.json").read_text())
    elif args.only:
        # Re-measure some cases and keep the others' last results (each case is side by side
        # within itself); the report names the cases measured in a later run.
        _scenario(args.size, args.load, args.end_s)
        results = json.loads((HERE / "results.json").read_text())
        for name in args.only:
            results[name] = _run_case(name, args)
        results[REMEASURED] = sorted(set(results.get(REMEASURED, [])) | set(args.only))
    else:
        OUT.mkdir(parents=True, exist_ok=True)
        _scenario(args.size, args.load, args.end_s)  # build once, outside the timings
        results = {name: _run_case(name, args) for name in CASES}
    bare = results["sumo-bare"]["sim_s_per_wall_s"]
    for name in ("loop-libsumo", "loop-traci"):
        results[name]["ratio_to_bare_sumo"] = results[name]["sim_s_per_wall_s"] / bare
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        f"# clearway bench — grid {args.size} {args.load}, {args.end_s:.0f} s, seed 1",
        "",
    ]
    if results.get(REMEASURED):
        lines += [f"Measured again in a later run: {', '.join(results[REMEASURED])}.", ""]
    lines += [
        "| case | sim s / wall s | wall (s) | ratio to bare sumo | peak MB | arrived | mean time loss (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in ("sumo-bare", "loop-libsumo", "loop-traci"):
        r = results[name]
        ratio = r.get("ratio_to_bare_sumo", 1.0)
        lines.append(
            f"| {name} | {r['sim_s_per_wall_s']:.0f} | {r['wall_s']:.2f} | {ratio:.2f} "
            f"| {r['peak_mb']:.0f} | {r['arrived']} | {r['mean_time_loss_s']:.1f} |"
        )
    ln, g, rt = results["load-network"], results["guard-checks"], results["routing"]
    lines += [
        "",
        f"- load-network: {ln['network']} ({ln['junctions']} junctions, {ln['signals']} signals): "
        f"load {ln['load_s']:.2f} s parsed, {ln['cached_load_s']:.2f} s from the network cache, "
        f"build intersections {ln['build_intersections_s']:.2f} s",
        f"- guard-checks: {g['checks_per_s']:.0f} checks/s ({g['us_per_check']:.1f} µs per check)",
    ]
    for key in ("berlin", "grid"):
        r = rt[key]
        lines.append(
            f"- routing {r['network']} ({r['junctions']} junctions, {r['graph_nodes']} edges): "
            f"routing_ms_median {r['routing_ms_median']:.2f} ms (p90 {r['routing_ms_p90']:.2f}, "
            f"{r['pairs']} random pairs, {r['unreachable_pairs']} unreachable)"
        )
    lines += scale_markdown(results["scale-grid30"], results["scale-lux"])
    lines += markdown(results["priority"])
    lines += quality_markdown(results["quality"])
    lines += resco_markdown(results.get("resco"))  # absent from runs before the case
    lines += service_markdown(results.get("service"))  # absent from runs before the case
    lines += snmp_markdown(results.get("snmp"))  # absent from runs before the case
    if results.get("field"):  # absent from runs before the case
        lines += ["", "## Corridor through field controllers", "",
                  *field_markdown(results["field"])]  # fmt: skip
    lines += reroute_markdown(results.get("reroute"))  # absent from runs before the case
    lines += pedestrians_markdown(results.get("pedestrians"))  # absent from runs before the case
    lines += transit_markdown(results.get("transit"))  # absent from runs before the case
    if results.get("avl"):  # absent from runs before the case
        lines += ["", "## Corridor fed by an emulated AVL unit", "", *avl_markdown(results["avl"])]
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
