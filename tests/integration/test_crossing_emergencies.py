"""Two emergency vehicles whose routes cross at one junction two seconds apart (the crossing
scenario): with arrival advice both get through without a stop; without it the police car,
which lets the ambulance through first, stops at the red."""

from __future__ import annotations

import functools

import pytest

import clearway.bootstrap as bootstrap
from clearway.control.priority.policies import CorridorPreemption
from clearway.evaluation.evaluate import EvaluationSettings, corridor_cross_streets, plan_jobs
from clearway.evaluation.priority_run import run_job
from clearway.evaluation.priority_scenarios import build_plan, named_setup

pytestmark = [pytest.mark.sumo, pytest.mark.slow]


def _corridor_stops(tmp_path, monkeypatch, *, advice: bool) -> dict[str, int]:
    monkeypatch.setattr(
        bootstrap,
        "CorridorPreemption",
        functools.partial(CorridorPreemption, advises_arrival=advice),
    )
    plan = build_plan(named_setup("crossing", tmp_path), [1])
    settings = EvaluationSettings(strategies=("corridor",), workers=1)
    cross = corridor_cross_streets(plan.net, plan.routes)
    (job,) = [
        j for j in plan_jobs(plan, settings, cross, tmp_path / "eval") if j.label == "corridor"
    ]
    m = run_job(job)
    assert m.safety_violations == 0 and m.guard_rejections == 0
    assert all(t.arrived for t in m.trips)
    return {t.trip_id: t.stops for t in m.trips}


def test_both_arrive_without_a_stop_when_the_second_is_advised(tmp_path, monkeypatch):
    without = _corridor_stops(tmp_path / "off", monkeypatch, advice=False)
    assert sum(without.values()) >= 1, f"the scenario no longer makes one vehicle wait: {without}"
    advised = _corridor_stops(tmp_path / "on", monkeypatch, advice=True)
    assert sum(advised.values()) == 0, advised
