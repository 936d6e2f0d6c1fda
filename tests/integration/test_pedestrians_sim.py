"""People walking on a small signalised grid with sidewalks and crossings: they walk and
arrive, their delay is reported, and corridor priority for an ambulance through junctions
where they cross leaves the independent monitor with nothing to count (walks and pedestrian
clearances are never cut; the guard's rules for them are in tests/safety)."""

from __future__ import annotations

import pytest

from clearway.evaluation.free_flow import FreeFlow
from clearway.evaluation.priority_rows import strategy_row
from clearway.evaluation.priority_run import RunJob, run_job
from clearway.evaluation.priority_scenarios import build_plan, grid_setup
from clearway.evaluation.run import run_scenario
from clearway.sim.pedestrians import ped_grid_scenario
from clearway.sim.priority_trips import with_priority_trips

pytestmark = [pytest.mark.sumo, pytest.mark.slow]

DURATION_S = 600.0


def test_people_walk_and_their_delay_is_reported(tmp_path):
    sc = ped_grid_scenario(tmp_path, "3x3", seed=1, end_s=DURATION_S)
    result = run_scenario(sc, strategy="actuated", out_dir=tmp_path / "out")
    assert result.persons > 0 and result.ped_time_loss_s is not None
    assert 0.0 <= result.ped_time_loss_s < DURATION_S
    assert result.safety_violations == 0 and result.guard_rejections == 0
    # The vehicles still drive, and no one is teleported out of a jam.
    assert result.arrived > 0 and result.teleports == 0


@pytest.mark.parametrize("normal", ["fixed-time", "actuated"])
def test_corridor_priority_with_people_crossing_keeps_every_walk_and_clearance(tmp_path, normal):
    setup = grid_setup(tmp_path, "3x3", "moderate", peds=True)
    plan = build_plan(setup, [1], duration_s=DURATION_S)
    scenario = with_priority_trips(plan.scenarios[1], plan.trips, tmp_path / "trips")
    job = RunJob("corridor", scenario, "corridor", plan.trips, plan.routes, (),
                 tmp_path / "run", DURATION_S, normal=normal)  # fmt: skip
    measures = run_job(job)
    assert measures.safety_violations == 0 and measures.guard_rejections == 0
    assert measures.trips[0].arrived and measures.requests_completed == 1
    assert measures.pedestrians is not None and measures.pedestrians.persons > 0
    free = {t.trip_id: FreeFlow(t.trip_id, 60.0, 0) for t in plan.trips}
    row = strategy_row(plan.name, measures, None, plan.trips, free)
    assert row["persons"] == measures.pedestrians.persons and row["ped_time_loss_s"] > 0.0
