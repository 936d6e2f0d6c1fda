"""Re-routing in the twin: an incident slows a street of the ambulance's route just after it
is dispatched; with re-routing on, the book gives it a way round, its driver takes it, and it
arrives sooner than on the same seed without."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clearway.evaluation.evaluate import EvaluationSettings, plan_jobs
from clearway.evaluation.priority_run import run_job
from clearway.evaluation.priority_scenarios import DETOUR_INCIDENT_EDGE, build_plan, detour_setup

pytestmark = [pytest.mark.sumo, pytest.mark.slow]


def test_the_ambulance_is_rerouted_round_the_incident_and_arrives_sooner(tmp_path):
    plan = build_plan(detour_setup(tmp_path), [3])  # seed 3 of the bench: re-routed there
    assert DETOUR_INCIDENT_EDGE in plan.trips[0].edges  # planned through it at dispatch
    (job,) = [j for j in plan_jobs(plan, EvaluationSettings(strategies=("corridor",)), (), tmp_path)
              if j.label == "corridor"]  # fmt: skip
    off = run_job(replace(job, out_dir=tmp_path / "off"))
    on = run_job(replace(job, out_dir=tmp_path / "on", reroute=True))
    assert off.trips[0].arrived and on.trips[0].arrived
    assert off.reroutes == {}
    assert 1 <= sum(on.reroutes.values()) <= 2  # taken, and no flapping
    assert on.trips[0].travel_time_s < off.trips[0].travel_time_s - 15.0
    assert on.safety_violations == 0 and on.guard_rejections == 0


def test_set_route_changes_a_vehicle_s_way_or_says_why_not(tmp_path):
    from clearway.errors import SimulationError
    from clearway.sim.scenario import grid_scenario
    from clearway.sim.twin import SumoTwin

    scenario = grid_scenario(tmp_path, "3x3", seed=1, end_s=300, load="light")
    with SumoTwin.start(scenario) as twin:
        twin.insert_vehicle("amb", ("left1A1", "A1B1", "B1C1", "C1right1"), type_id="DEFAULT_VEHTYPE")
        twin.advance(3.0)
        assert twin.priority_positions() == {}  # not tracked: set_route needs no tracking
        twin.set_route("amb", ("left1A1", "A1B1", "B1B2", "B2C2", "C2right2"))
        assert twin._sim.vehicle.getRoute("amb")[-1] == "C2right2"
        # From an edge ahead on its route: the way there is kept.
        twin.set_route("amb", ("A1B1", "B1C1", "C1right1"))
        assert twin._sim.vehicle.getRoute("amb") == ("left1A1", "A1B1", "B1C1", "C1right1")
        twin.set_route("amb", ("left1A1", "A1B1", "B1B2", "B2C2", "C2right2"))
        with pytest.raises(SimulationError, match="neither passes nor starts ahead"):
            twin.set_route("amb", ("B1C1", "C1right1"))
        with pytest.raises(SimulationError, match="re-routing vehicle 'amb'"):
            twin.set_route("amb", ("left1A1", "B1C1"))  # not connected
        assert twin._sim.vehicle.getRoute("amb")[-1] == "C2right2"  # kept its route
