"""The corridor gets a priority trip through faster than local preemption and than doing
nothing, on the same seeded traffic (libsumo): the ordering of medians, not timings."""

from __future__ import annotations

import pytest

from clearway.evaluation.evaluate import EvaluationSettings, evaluate
from clearway.evaluation.priority_scenarios import build_plan, named_setup

pytestmark = [pytest.mark.sumo, pytest.mark.slow]


def test_corridor_beats_local_and_none_for_a_convoy(tmp_path):
    plan = build_plan(named_setup("convoy", tmp_path), [1, 2, 3])
    result = evaluate(plan, EvaluationSettings(workers=2), tmp_path / "eval")
    for r in result.rows:
        assert r["priority_arrived"], r
        assert r["safety_violations"] == 0 and r["guard_rejections"] == 0, r
    med = result.medians
    corridor, local, none = med["corridor"], med["local"], med["none"]
    assert corridor["priority_travel_time_s"] < local["priority_travel_time_s"]
    assert corridor["priority_travel_time_s"] < none["priority_travel_time_s"]
    assert corridor["stops"] == 0 < none["stops"]
    # The junctions it held were handed back to fixed-time after their cut phases.
    assert corridor["time_to_recover_s"] > 0
