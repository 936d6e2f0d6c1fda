"""Drivers who follow the public alert feed, in the twin: on the spillback grid a share of
the demand's drivers is re-routed around the edges the feed announces for the ambulance's
corridor; nobody else is ever named to SUMO, the ambulance still arrives, the safety monitor
sees nothing, and the others' delay differs from the same seed without followers (the effect
exists; its sign and size are measured in the README, not asserted here)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clearway.evaluation.evaluate import EvaluationSettings, plan_jobs
from clearway.evaluation.priority_run import run_job
from clearway.evaluation.priority_scenarios import build_plan, named_setup
from clearway.sim.alert_followers import choose_followers, loaded_trips
from clearway.sim.twin import SumoTwin

pytestmark = [pytest.mark.sumo, pytest.mark.slow]


def test_followers_are_rerouted_and_no_one_else_is_named(tmp_path, monkeypatch):
    plan = build_plan(named_setup("spillback", tmp_path), [1])
    (job,) = [j for j in plan_jobs(plan, EvaluationSettings(strategies=("corridor",)), (), tmp_path)
              if j.label == "corridor"]  # fmt: skip
    named: set[str] = set()
    real = SumoTwin.avoid_edges

    def spy(self, vehicle_id, windows_s):
        named.add(vehicle_id)
        assert windows_s, "a follower is re-routed only while the feed announces an edge"
        return real(self, vehicle_id, windows_s)

    monkeypatch.setattr(SumoTwin, "avoid_edges", spy)
    off = run_job(replace(job, out_dir=tmp_path / "off"))
    assert named == set() and off.alert_followers == 0 and off.alert_reroutes == 0
    on = run_job(replace(job, out_dir=tmp_path / "on", alert_share=0.3))
    priority = {v for t in job.trips for v in t.vehicle_ids}
    followers = choose_followers(loaded_trips(job.scenario.route_files), 0.3, 1, priority)
    assert on.alert_followers == len(followers) > 0
    assert 0.25 < len(followers) / on.others.vehicles < 0.35
    assert on.alert_reroutes > 0
    assert named and named <= set(followers)  # never a priority vehicle, never a non-follower
    assert on.trips[0].arrived and off.trips[0].arrived
    assert on.safety_violations == 0 and on.guard_rejections == 0
    assert on.others.total_delay_s != off.others.total_delay_s
