"""Control-loop cost at city scale: the ``scale-grid30`` case of ``make bench``.

A generated 30x30 signalised grid (900 signals), moderate seeded demand, max-pressure through
the guard with the monitor on. Every tick is timed in two parts, side by side in one run:
clearway's part (read signal states and detectors, decide, guard, apply) and the simulator's
step (``simulationStep`` through libsumo). Reported: µs per signal per tick for clearway's part,
its share of the simulation step, and peak RSS.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np

SIZE = "30x30"
WARMUP_S = 120.0
MEASURE_S = 300.0


def case_scale(out_dir: Path, strategy: str = "max-pressure") -> dict:
    """Run the 900-signal grid and time clearway's part of every tick against SUMO's step."""
    from clearway.bootstrap import open_twin_run
    from clearway.sim.scenario import grid_scenario

    t0 = time.perf_counter()
    sc = grid_scenario(out_dir / "scenarios", size=SIZE, seed=1, end_s=WARMUP_S + MEASURE_S,
                       load="moderate")  # fmt: skip
    build_s = time.perf_counter() - t0
    with open_twin_run(sc, strategy=strategy) as wired:
        loop, twin = wired.loop, wired.twin
        n = len(wired.guard.intersections)
        loop.run(WARMUP_S)
        tick_s, step_s = [], []
        end = twin.now_s() + MEASURE_S
        while twin.now_s() < end - 1e-9:
            a = time.perf_counter()
            loop.tick()
            b = time.perf_counter()
            twin.advance(loop.tick_s)
            c = time.perf_counter()
            tick_s.append(b - a)
            step_s.append(c - b)
        violations = wired.monitor.violation_count
        rejected = loop.stats.rejected
    tick, step = np.array(tick_s), np.array(step_s)
    return {
        "network": f"grid {SIZE}, moderate demand, seed 1",
        "strategy": strategy,
        "signals": n,
        "scenario_build_s": build_s,
        "ticks": len(tick),
        "clearway_ms_per_tick_median": 1e3 * float(np.median(tick)),
        "sumo_step_ms_median": 1e3 * float(np.median(step)),
        "clearway_us_per_signal": 1e6 * float(np.median(tick)) / max(n, 1),
        "clearway_share_of_step": float(np.median(tick) / np.median(step)),
        "safety_violations": violations,
        "guard_rejections": rejected,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def markdown(r: dict, lux: dict | None = None) -> list[str]:
    """Lines for ``bench/results.md``."""
    out = [
        "",
        f"- scale: {r['network']}, {r['signals']} signals, {r['strategy']} through the guard: "
        f"clearway {r['clearway_ms_per_tick_median']:.1f} ms per tick "
        f"({r['clearway_us_per_signal']:.1f} µs per signal) vs SUMO step "
        f"{r['sumo_step_ms_median']:.1f} ms (clearway = {100 * r['clearway_share_of_step']:.0f} % "
        f"of the step); peak {r['peak_mb']:.0f} MB; violations {r['safety_violations']}, "
        f"rejections {r['guard_rejections']}",
    ]
    if lux and "skipped" not in lux:
        out.append(
            f"- scale: {lux['network']}, {lux['signals']} signals, {lux['strategy']}: clearway "
            f"{lux['clearway_wall_s']:.1f} s vs plain sumo {lux['bare_sumo_wall_s']:.1f} s "
            f"(x{lux['wall_ratio_to_bare_sumo']:.2f}); clearway's part = "
            f"{100 * lux['clearway_share_of_step']:.0f} % of the step "
            f"({lux['clearway_us_per_signal']:.1f} µs per signal); violations "
            f"{lux['safety_violations']}, rejections {lux['guard_rejections']}"
        )
    elif lux:
        out.append(f"- scale-lux skipped: {lux['skipped']}")
    return out


LUX_OSM = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / "lust.legacy.scenario.osm"
LUX_END_S = 3600.0


def case_lux(out_dir: Path, strategy: str = "max-pressure") -> dict:
    """One simulated hour of Luxembourg City (imported from OSM, seeded demand): plain ``sumo``
    on the same files against clearway's loop, and clearway's share of every step."""
    import subprocess

    from clearway.bootstrap import open_twin_run
    from clearway.sim.launch import sumo_command
    from clearway.sim.osm_import import import_osm
    from clearway.sim.scenario import user_scenario

    if not LUX_OSM.exists():
        return {"skipped": f"{LUX_OSM} not found (../shared/data/osm)"}
    work = out_dir / "lux"
    t0 = time.perf_counter()
    report = import_osm(LUX_OSM, work, seed=1, end_s=LUX_END_S)
    import_s = time.perf_counter() - t0
    sc = user_scenario(report.net_file, [report.routes_file], work, seed=1, end_s=LUX_END_S,
                       name="luxembourg")  # fmt: skip
    cmd = sumo_command(sc, 1.0, work / "bare.tripinfo.xml", work / "bare.log", ())
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    bare_s = time.perf_counter() - t0
    tick_s, step_s = [], []
    t0 = time.perf_counter()
    with open_twin_run(sc, strategy=strategy) as wired:
        loop, twin = wired.loop, wired.twin
        n = len(wired.guard.intersections)
        while twin.now_s() < LUX_END_S - 1e-9:
            a = time.perf_counter()
            loop.tick()
            b = time.perf_counter()
            twin.advance(loop.tick_s)
            tick_s.append(b - a)
            step_s.append(time.perf_counter() - b)
        violations, rejected = wired.monitor.violation_count, loop.stats.rejected
    loop_s = time.perf_counter() - t0
    return {
        "network": f"Luxembourg City (LuST OSM, imported), {LUX_END_S:.0f} s, seeded demand",
        "strategy": strategy,
        "signals": n,
        "import_s": import_s,
        "bare_sumo_wall_s": bare_s,
        "clearway_wall_s": loop_s,
        "wall_ratio_to_bare_sumo": loop_s / bare_s,
        "clearway_share_of_step": float(np.sum(tick_s) / np.sum(step_s)),
        "clearway_us_per_signal": 1e6 * float(np.median(tick_s)) / max(n, 1),
        "safety_violations": violations,
        "guard_rejections": rejected,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
