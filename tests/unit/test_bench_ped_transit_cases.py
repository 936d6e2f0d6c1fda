"""``make bench`` has the pedestrians and transit cases, and results.md gets their tables (and
nothing for a results.json from before them, as ``--only`` / ``--render`` may read)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _run_bench():
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("run_bench")


def _ped_result() -> dict:
    def m(ratio, stops, others, ped):
        return {"ratio": ratio, "stops": stops, "others_extra_delay_veh_h": others,
                "ped_time_loss_s": ped, "safety_violations_total": 0}  # fmt: skip

    medians = {"none": m(1.674, 2.0, 0.0006, 69.73), "local": m(1.163, 2.0, 1.9487, 71.5),
               "corridor": m(1.035, 0.0, 1.59, 71.2)}  # fmt: skip
    return {"seeds": 5, "scenarios": {"pedestrians": {"medians": medians, "wall_s": 48.2}}}


def _transit_row(median, iqr, loss, ext, early) -> dict:
    return {"lateness_last_stop": {"median_s": median, "iqr_s": iqr}, "buses_measured": 42,
            "unfinished_buses": 0, "bus_time_loss_s": loss, "others_time_loss_s": 79.47,
            "extensions": ext, "early_greens": early, "longest_red_s": 52.0, "violations": 0,
            "guard_rejections": 0}  # fmt: skip


def test_both_cases_are_registered_and_run_in_their_own_process():
    rb = _run_bench()
    assert {"pedestrians", "transit"} <= set(rb.CASES)


def test_the_pedestrians_table_has_a_row_per_strategy():
    rb = _run_bench()
    lines = rb.pedestrians_markdown(_ped_result())
    assert any(x.startswith("## Free passage with people crossing") for x in lines)
    rows = {x.split(" | ")[0]: x for x in lines if x.startswith("| ") and "---" not in x}
    assert "pedestrians' time loss (s)" in rows["| strategy"]
    assert rows["| corridor"] == "| corridor | 1.035 | 0 | +1.59 | 71.2 | 0 |"
    assert rows["| none"] == "| none | 1.674 | 2 | +0.00 | 69.7 | 0 |"
    assert rb.pedestrians_markdown(None) == []


def test_the_transit_table_compares_with_and_without():
    rb = _run_bench()
    result = {
        "scenario": "grid 5x5, moderate demand, 2 bus lines, 1800 s",
        "seeds": [1, 2, 3],
        "rows": {"none": _transit_row(263.2, 90.0, 226.0, 0, 0),
                 "transit": _transit_row(75.7, float("nan"), 58.6, 30, 106)},  # fmt: skip
        "wall_s": 18.4,
    }
    lines = rb.transit_markdown(result)
    rows = {x.split(" | ")[0]: x for x in lines if x.startswith("| ") and "---" not in x}
    assert "bus lateness median (s)" in rows["| transit priority"]
    assert rows["| without"].startswith("| without | 263.2 | 90.0 | 42 | 226.0 | 79.47 | 0 / 0 |")
    assert rows["| with"].startswith("| with | 75.7 | — | 42 | 58.6 | 79.47 | 30 / 106 |")
    assert rb.transit_markdown(None) == []
