"""The corridor through field controllers vs commanding the twin's links directly.

For each named free-passage scenario, ``SEEDS`` seeds of the corridor strategy three times on
the same seeds: on clearway's own fixed-time control commanding the twin's links (``--normal
fixed-time``); the same, its holds limited to the states the signals' NEMA phase maps can show
(``--normal nema-phases``); and with every signal run by a virtual NEMA controller that
clearway reaches only through NTCIP phase controls (``--normal nema``: in process and in
simulated time, so the SNMP wire's cost is the ``snmp`` case's). Reports the median ratio to
free flow, stops, others' extra delay (each against its own reference: the same control
without the trip) and two travel-time costs of the corridor, in %, per seed then median:
- the controllers' own cost, ``nema`` against ``nema-phases`` (phase controls, their
  latency, the controllers' change intervals and actuated programs; target <= 2 %);
- the phase structure's, ``nema-phases`` against ``fixed-time`` (a movement no phase
  combination shows protected stays permissive through any controller with that map).

Run alone: ``.venv/bin/python bench/field_bench.py [--seeds N]``; writes ``bench/field.json``
and ``bench/field.md``. ``make bench`` runs it as the ``field`` case.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = 3
WORKERS = 2
COST_TARGET_PCT = 2.0
NORMALS = ("fixed-time", "nema-phases", "nema")
_KEYS = ("ratio", "stops", "others_extra_delay_veh_h", "safety_violations_total",
         "guard_rejections_total")  # fmt: skip


def case_field(out_dir: Path, seeds: int = SEEDS) -> dict:
    """Every named scenario under both normals: corridor medians and the controllers' cost."""
    from clearway.evaluation.evaluate import EvaluationSettings, evaluate
    from clearway.evaluation.priority_scenarios import NAMED, build_plan, named_setup

    out: dict = {"seeds": seeds, "workers": WORKERS, "scenarios": {}}
    for scenario in NAMED:
        plan = build_plan(named_setup(scenario, out_dir), list(range(1, seeds + 1)))
        rows: dict = {}
        travel: dict = {}
        for normal in NORMALS:
            settings = EvaluationSettings(strategies=("corridor",), workers=WORKERS, normal=normal)
            t0 = time.perf_counter()
            result = evaluate(plan, settings, out_dir / f"field-{scenario}-{normal}")
            m = result.medians["corridor"]
            rows[normal] = {
                **{k: m.get(k) for k in _KEYS},
                "seeds_ok": m["seeds"],
                "failed": [f["error"] for f in result.failed],
                "wall_s": round(time.perf_counter() - t0, 1),
            }
            travel[normal] = {r["seed"]: r["priority_travel_time_s"] for r in result.rows
                              if r["strategy"] == "corridor" and r.get("priority_travel_time_s")}  # fmt: skip
        # Same seeds side by side: the per-seed travel-time cost, then its median.
        for key, (a, b) in {"cost_pct": ("nema-phases", "nema"),
                            "structure_cost_pct": ("fixed-time", "nema-phases"),
                            "total_cost_pct": ("fixed-time", "nema")}.items():  # fmt: skip
            costs = _costs(travel[a], travel[b])
            rows[key] = round(statistics.median(costs), 2) if costs else None
            rows[f"{key}_per_seed"] = [round(c, 2) for c in costs]
        out["scenarios"][scenario] = rows
    costs = [r["cost_pct"] for r in out["scenarios"].values()]
    out["target_met"] = all(c is not None and c <= COST_TARGET_PCT for c in costs)
    return out


def _costs(base: dict[int, float], other: dict[int, float]) -> list[float]:
    """Per seed both ran, how much longer ``other``'s travel time is than ``base``'s (%)."""
    return [100.0 * (other[s] / base[s] - 1.0) for s in sorted(set(base) & set(other))]


def markdown(result: dict) -> list[str]:
    """The side-by-side table (``bench/field.md`` and ``bench/results.md``)."""
    lines = [
        f"Corridor medians of {result['seeds']} seeds (same seeds): ratio to free flow / stops "
        "/ others' extra delay (veh·h). Costs: the ambulance's travel time, per seed then "
        "median — the controllers' own (NEMA controllers against the direct twin limited to "
        "their phases' states) and the phase structure's (that against the unlimited twin).",
        "",
        "| scenario | direct twin (fixed-time) | direct twin, phase states only | NEMA "
        "controllers (phase controls) | controllers' cost | phase structure's cost |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for scenario, rows in result["scenarios"].items():
        cells = []
        for normal in NORMALS:
            r = rows.get(normal)
            if r is None:
                cells.append("—")
            elif r["failed"] or r["ratio"] is None:
                cells.append(f"failed ({len(r['failed'])} runs)")
            else:
                cells.append(
                    f"{r['ratio']:.3f} / {r['stops']:.0f} / {r['others_extra_delay_veh_h']:+.2f}"
                )
        for key in ("cost_pct", "structure_cost_pct"):
            cost = rows.get(key)
            cells.append("—" if cost is None else f"{cost:+.1f} %")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    lines += ["", f"Target (controllers' cost <= {COST_TARGET_PCT:g} % on every scenario): "
                  f"{'met' if result['target_met'] else 'not met'}."]  # fmt: skip
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=SEEDS)
    args = ap.parse_args()
    result = case_field(HERE / "out" / "field", args.seeds)
    (HERE / "field.json").write_text(json.dumps(result, indent=2) + "\n")
    (HERE / "field.md").write_text("\n".join(markdown(result)) + "\n")
    print("\n".join(markdown(result)))


if __name__ == "__main__":
    main()
