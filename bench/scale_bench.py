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


def markdown(r: dict) -> list[str]:
    """Lines for ``bench/results.md``."""
    return [
        "",
        f"- scale: {r['network']}, {r['signals']} signals, {r['strategy']} through the guard: "
        f"clearway {r['clearway_ms_per_tick_median']:.1f} ms per tick "
        f"({r['clearway_us_per_signal']:.1f} µs per signal) vs SUMO step "
        f"{r['sumo_step_ms_median']:.1f} ms (clearway = {100 * r['clearway_share_of_step']:.0f} % "
        f"of the step); peak {r['peak_mb']:.0f} MB; violations {r['safety_violations']}, "
        f"rejections {r['guard_rejections']}",
    ]
