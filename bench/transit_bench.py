"""Conditional transit priority: two bus lines on a 5x5 grid, with and without it.

Per seed (same demand, same buses, same late starts), two runs of fixed-time signals: ``none``
(the plain program) and ``transit``
(:class:`~clearway.control.transit_control.TransitFixedTimeController`: a bus later than
``late_threshold_s`` gets a green extension or an early green, never preemption). Reports, over
all buses of all seeds, the median and interquartile range of lateness at the last stop (SUMO
stop output against the generated GTFS), the buses' and the other vehicles' mean time loss,
the extensions and early greens given, the longest any movement waited for its green, and
the monitor's violations.

Run alone: ``.venv/bin/python bench/transit_bench.py [--seeds N]`` (prints JSON). It is the
``transit`` case of ``make bench`` (:func:`markdown` renders its table); it writes nothing under
bench/ itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SEEDS = 3
WORKERS = 2


def _one(args: tuple[str, int, bool, str, float]) -> dict:
    from clearway.evaluation.transit_run import run_buses

    out, seed, transit, size, end_s = args
    # Each run in its own folder: two processes never write the same bus or GTFS files.
    where = Path(out) / f"{'transit' if transit else 'none'}-s{seed}"
    m = run_buses(where, seed=seed, transit=transit, size=size, end_s=end_s)
    return {
        "label": m.label, "seed": seed, "lateness_s": list(m.lateness_last_stop_s),
        "bus_time_loss_s": m.bus_time_loss_s, "others_time_loss_s": m.others_time_loss_s,
        "unfinished": m.unfinished_buses, "extensions": m.extensions,
        "early_greens": m.early_greens, "violations": m.safety_violations,
        "rejections": m.guard_rejections, "longest_red_s": m.longest_red_s,
    }  # fmt: skip


def case_transit(
    out_dir: Path,
    seeds: int = SEEDS,
    *,
    size: str = "5x5",
    end_s: float = 1800.0,
    workers: int = WORKERS,
) -> dict:
    """Bus lateness and delays with and without transit priority, ``seeds`` seeds (1..N)."""
    from clearway.evaluation.transit_run import spread

    t0 = time.perf_counter()
    jobs = [(str(out_dir), s, tr, size, end_s) for s in range(1, seeds + 1) for tr in (False, True)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(_one, jobs))
    rows = {}
    for label in ("none", "transit"):
        rs = [r for r in runs if r["label"] == label]
        late = [x for r in rs for x in r["lateness_s"]]
        rows[label] = {
            "lateness_last_stop": {k: round(v, 1) for k, v in spread(late).items()},
            "buses_measured": len(late),
            "unfinished_buses": sum(r["unfinished"] for r in rs),
            "bus_time_loss_s": round(statistics.fmean(r["bus_time_loss_s"] for r in rs), 1),
            "others_time_loss_s": round(statistics.fmean(r["others_time_loss_s"] for r in rs), 2),
            "extensions": sum(r["extensions"] for r in rs),
            "early_greens": sum(r["early_greens"] for r in rs),
            "longest_red_s": max(r["longest_red_s"] for r in rs),
            "violations": sum(r["violations"] for r in rs),
            "guard_rejections": sum(r["rejections"] for r in rs),
        }
    return {
        "scenario": f"grid {size}, moderate demand, 2 bus lines, {end_s:g} s",
        "seeds": list(range(1, seeds + 1)),
        "rows": rows,
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def _s(x: float) -> str:
    return "—" if x != x else f"{x:.1f}"  # NaN: no bus measured


def markdown(result: dict | None) -> list[str]:
    """The transit section of ``bench/results.md`` (nothing for results from before the case)."""
    if not result:
        return []
    seeds = result["seeds"]
    lines = [
        "",
        "## Transit priority (late buses only)",
        "",
        f"Scenario {result['scenario']}; seeds {', '.join(map(str, seeds))}, same demand and "
        f"buses with and without (wall {result['wall_s']:.0f} s). Lateness at the last stop over "
        "all buses; time losses are means of the seeds.",
        "",
        "| transit priority | bus lateness median (s) | IQR (s) | buses | bus time loss (s) "
        "| others' time loss (s) | extensions / early greens | longest red (s) | violations |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, name in (("none", "without"), ("transit", "with")):
        r = result["rows"][label]
        late = r["lateness_last_stop"]
        lines.append(
            f"| {name} | {_s(late['median_s'])} | {_s(late['iqr_s'])} | {r['buses_measured']} "
            f"| {r['bus_time_loss_s']:.1f} | {r['others_time_loss_s']:.2f} "
            f"| {r['extensions']} / {r['early_greens']} | {r['longest_red_s']:.0f} "
            f"| {r['violations']} |"
        )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=SEEDS)
    p.add_argument("--size", default="5x5")
    p.add_argument("--end", type=float, default=1800.0)
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="cw-transit-") as tmp:
        print(json.dumps(case_transit(Path(tmp), a.seeds, size=a.size, end_s=a.end), indent=2))


if __name__ == "__main__":
    main()
