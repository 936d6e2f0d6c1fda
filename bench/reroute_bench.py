"""Re-routing on the way: the corridor with and without it on the ``detour`` scenario.

The ``detour`` scenario (:func:`clearway.evaluation.priority_scenarios.detour_setup`): just
after the ambulance leaves, an incident slows a block of its planned route to walking pace.
Per seed (the same seeds, the same demand and incident), three runs: the reference without
the trip, the corridor with the route planned at dispatch only (``off``), and the corridor
re-routing from live travel times (``on``: the request book's
:class:`~clearway.control.priority.reroute.ReroutePolicy`, the driver takes the new route).
Reports medians of the ambulance's travel time and stops, others' extra delay against the
reference, the re-routes per trip (no flapping: at most :data:`MAX_SWITCHES` each) and the
per-seed travel-time saving.

Run alone: ``.venv/bin/python bench/reroute_bench.py [--seeds N]`` (prints the table);
``bench/run_bench.py --case reroute`` prints its JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = 5
WORKERS = 2
#: Most re-routes one trip may take for the case to count as free of flapping.
MAX_SWITCHES = 2
MODES = ("off", "on")


def case_reroute(out_dir: Path, seeds: int = SEEDS) -> dict:
    """The corridor on ``detour`` with re-routing off and on, ``seeds`` seeds side by side."""
    from clearway.evaluation.evaluate import EvaluationSettings, plan_jobs
    from clearway.evaluation.priority_metrics import extra_delay_veh_h
    from clearway.evaluation.priority_run import run_job
    from clearway.evaluation.priority_scenarios import build_plan, detour_setup

    t0 = time.perf_counter()
    plan = build_plan(detour_setup(out_dir), list(range(1, seeds + 1)))
    settings = EvaluationSettings(strategies=("corridor",), workers=WORKERS)
    jobs = []
    for job in plan_jobs(plan, settings, (), out_dir):
        if job.label == "reference":
            jobs.append(job)
            continue
        for mode in MODES:
            jobs.append(replace(job, label=f"corridor-{mode}", reroute=mode == "on",
                                out_dir=job.out_dir.with_name(f"corridor-{mode}")))  # fmt: skip
    with ProcessPoolExecutor(WORKERS) as pool:
        done = list(pool.map(run_job, jobs))
    refs = {m.seed: m for m in done if m.label == "reference"}
    per_seed: dict[str, dict[int, dict]] = {mode: {} for mode in MODES}
    for m in done:
        if m.label == "reference":
            continue
        trip = m.trips[0]
        per_seed[m.label.removeprefix("corridor-")][m.seed] = {
            "travel_time_s": round(trip.travel_time_s, 1) if trip.arrived else None,
            "stops": trip.stops,
            "reroutes": sum(m.reroutes.values()),
            "others_extra_delay_veh_h": round(
                extra_delay_veh_h(m.others.total_delay_s, refs[m.seed].others.total_delay_s), 3
            ),
            "safety_violations": m.safety_violations,
            "guard_rejections": m.guard_rejections,
        }
    out: dict = {"scenario": plan.name, "seeds": seeds, "workers": WORKERS,
                 "free_flow_plan_s": round(plan.routes[0].travel_time_s, 1)}  # fmt: skip
    for mode in MODES:
        rows = per_seed[mode]
        out[mode] = {
            "travel_time_s_median": _median(r["travel_time_s"] for r in rows.values()),
            "stops_median": _median(r["stops"] for r in rows.values()),
            "others_extra_delay_veh_h_median": _median(
                r["others_extra_delay_veh_h"] for r in rows.values()
            ),
            "reroutes_max": max((r["reroutes"] for r in rows.values()), default=0),
            "per_seed": {str(s): r for s, r in sorted(rows.items())},
        }
    both = sorted(set(per_seed["off"]) & set(per_seed["on"]))
    saved = [
        per_seed["off"][s]["travel_time_s"] - per_seed["on"][s]["travel_time_s"]
        for s in both
        if per_seed["off"][s]["travel_time_s"] is not None
        and per_seed["on"][s]["travel_time_s"] is not None
    ]
    out["saved_s_per_seed"] = [round(x, 1) for x in saved]
    out["saved_s_median"] = round(statistics.median(saved), 1) if saved else None
    out["no_flapping"] = out["on"]["reroutes_max"] <= MAX_SWITCHES
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def _median(values) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 2) if vals else None


def markdown(result: dict | None) -> list[str]:
    """The section of ``bench/results.md`` (nothing for results from before the case)."""
    if not result:
        return []
    lines = [
        "",
        "## Re-routing on the way",
        "",
        f"Scenario {result['scenario']}: an incident slows a block of the ambulance's planned "
        f"route just after it leaves. Corridor, medians of {result['seeds']} seeds (same seeds).",
        "",
        "| re-routing | travel time (s) | stops | others' extra delay (veh·h) | re-routes per trip (max) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for mode in MODES:
        r = result[mode]
        lines.append(
            f"| {mode} | {r['travel_time_s_median']} | {r['stops_median']} "
            f"| {r['others_extra_delay_veh_h_median']} | {r['reroutes_max']} |"
        )
    lines += [
        "",
        f"Saved per seed (s): {', '.join(f'{x:.1f}' for x in result['saved_s_per_seed'])}; "
        f"median {result['saved_s_median']} s. No flapping (<= {MAX_SWITCHES} re-routes per "
        f"trip): {'yes' if result['no_flapping'] else 'no'}.",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=SEEDS)
    args = ap.parse_args()
    result = case_reroute(HERE / "out" / "reroute", args.seeds)
    print(json.dumps(result, indent=2))
    print("\n".join(markdown(result)))


if __name__ == "__main__":
    main()
