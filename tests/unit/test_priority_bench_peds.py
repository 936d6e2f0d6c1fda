"""The free-passage bench table carries the pedestrians' time loss: a figure where people
walked, "—" where nobody did (or a result measured before pedestrians were)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "priority_bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("priority_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _medians(ped):
    base = {"ratio": 1.0, "stops": 0, "others_extra_delay_veh_h": 0.5,
            "cross_street_extra_delay_veh_h": 0.2, "safety_violations_total": 0}  # fmt: skip
    return {s: {**base, **({} if ped is None else {"ped_time_loss_s": ped + k})}
            for k, s in enumerate(("none", "local", "corridor"))}  # fmt: skip


def test_the_table_has_a_pedestrian_column_with_a_dash_where_nobody_walked():
    pb = _bench()
    scenarios = {}
    for name, ped in (("pedestrians", 70.0), ("spillback", None)):
        m = _medians(ped)
        scenarios[name] = {"medians": m, "targets": pb.scenario_targets(m)}
    lines = pb.markdown({"seeds": 3, "scenarios": scenarios})
    header = next(x for x in lines if x.startswith("| scenario | ratio"))
    assert "pedestrians' time loss (s)" in header
    peds = next(x for x in lines if x.startswith("| pedestrians |"))
    spill = next(x for x in lines if x.startswith("| spillback |"))
    assert "| 70.0 / 71.0 / 72.0 |" in peds
    assert "| — / — / — |" in spill and "0.0 /" not in spill
    assert "ped_time_loss_s" in pb._KEYS
    assert callable(pb.case_pedestrians)
