"""The corridor hears the ambulance through an emulated AVL unit (libsumo): reports once a
second, a second late, or the issue's target unit (GPS error 15 m, one report in 5 s, 3 s
late, a fifth lost) — it still gets through a 3x3 grid without a stop, guard and monitor
silent. (Before the corridor planned a vehicle not heard of yet from its departure and kept
stray fixes on the route, the target unit cost seed 1 of this grid a stop, ratio 1.103; the
named scenarios: bench/avl.md.)"""

from __future__ import annotations

import pytest

from clearway.evaluation.evaluate import EvaluationSettings, evaluate
from clearway.evaluation.priority_scenarios import build_plan, grid_setup
from clearway.sim.avl import AvlSettings

pytestmark = [pytest.mark.sumo, pytest.mark.slow]


@pytest.mark.parametrize(
    "avl",
    [
        AvlSettings(rate_hz=1.0, latency_s=1.0, on_road=True),
        AvlSettings(sigma_m=5.0, rate_hz=1.0, latency_s=1.0),
        AvlSettings(sigma_m=15.0, rate_hz=0.2, latency_s=3.0, drop=0.2),
    ],
    ids=["on-road", "gps-5m", "target"],
)
def test_a_late_feed_still_gets_the_ambulance_through_without_a_stop(tmp_path, avl):
    plan = build_plan(grid_setup(tmp_path, "3x3", "light"), [1], duration_s=600.0)
    settings = EvaluationSettings(strategies=("corridor",), workers=1, avl=avl)
    result = evaluate(plan, settings, tmp_path / "eval")
    assert not result.failed, result.failed
    (row,) = result.rows
    assert row["priority_arrived"] and row["stops"] == 0, row
    assert row["safety_violations"] == 0 and row["guard_rejections"] == 0
    reports = row["avl_reports"]
    assert reports["sampled"] > 30 * avl.rate_hz
    assert (reports["dropped"] > 0) == (avl.drop > 0)
    assert result.header["avl"] == avl.to_dict()
