"""Noise floor of ``others_extra_delay_veh_h``: what one far-away vehicle "costs" everyone else.

An ambulance on a short route in a corner of the 5x5 grid (one junction, A0), strategy
``none``, against the same-seed reference run without it — with and without the demand's
random driver imperfection (``sigma``). Ideally it costs nobody anything; whatever shows is the
floor under which ``clearway evaluate``'s extra-delay figures mean nothing.

    .venv/bin/python bench/noise_floor.py [--seeds 5] [--load heavy]

Writes ``bench/noise_floor.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from xml.etree import ElementTree

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "noise-floor"
FAR_TRIP = "bottom0A0:A0left0@300"


def _per_vehicle(path: Path) -> dict[str, tuple[str, str, str]]:
    root = ElementTree.parse(path).getroot()
    return {
        t.get("id"): (t.get("timeLoss"), t.get("arrival"), t.get("departDelay"))
        for t in root.iter("tripinfo")
    }


def measure(seeds: int, load: str, driver_noise: bool, workers: int) -> list[dict]:
    from clearway.evaluation.evaluate import EvaluationSettings, evaluate
    from clearway.evaluation.priority_scenarios import build_plan, grid_setup
    from clearway.evaluation.trip_spec import parse_priority

    setup = grid_setup(OUT, "5x5", load, (parse_priority(FAR_TRIP),))
    plan = build_plan(setup, range(1, seeds + 1))
    settings = EvaluationSettings(strategies=("none",), workers=workers, driver_noise=driver_noise)
    out = OUT / ("noisy" if driver_noise else "calm")
    result = evaluate(plan, settings, out)
    if result.failed:
        raise SystemExit(f"noise floor: runs failed: {result.failed}")
    rows = []
    for row in result.rows:
        runs = out / "runs" / f"seed{row['seed']}"
        ref = _per_vehicle(runs / "reference" / "tripinfo.xml")
        run = _per_vehicle(runs / "none" / "tripinfo.xml")
        changed = sum(1 for vid, v in ref.items() if run.get(vid) != v)
        rows.append(
            {
                "seed": row["seed"],
                "driver_noise": driver_noise,
                "others_extra_delay_veh_h": row["others_extra_delay_veh_h"],
                "cross_street_extra_delay_veh_h": row["cross_street_extra_delay_veh_h"],
                "vehicles": len(ref),
                "vehicles_changed": changed,
                "reference_total_delay_veh_h": result.reference[row["seed"] - 1][
                    "others_total_delay_veh_h"
                ],
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--load", default="heavy")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = []
    for noise in (True, False):
        rows += measure(args.seeds, args.load, noise, args.workers)
    (HERE / "noise_floor.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"far-away ambulance ({FAR_TRIP}) on grid 5x5 {args.load}, strategy none vs reference")
    print("driver noise | seed | changed vehicles | others' extra delay (veh·h) | of total")
    for r in rows:
        print(
            f"{'on ' if r['driver_noise'] else 'off'}          | {r['seed']:>4} | "
            f"{r['vehicles_changed']:>5} / {r['vehicles']:<5} | "
            f"{r['others_extra_delay_veh_h']:>+10.3f}                  | "
            f"{r['reference_total_delay_veh_h']:.1f}"
        )
    for noise in (True, False):
        xs = [abs(r["others_extra_delay_veh_h"]) for r in rows if r["driver_noise"] == noise]
        print(
            f"driver noise {'on ' if noise else 'off'}: median |extra delay| {statistics.median(xs):.3f} veh·h, max {max(xs):.3f}"
        )


if __name__ == "__main__":
    main()
