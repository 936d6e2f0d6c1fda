"""Fixed-time control through the guard in the real simulator, on real city networks: every
command approved, and the independent monitor sees no violation in what SUMO shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearway.evaluation.run import run_scenario
from clearway.sim.scenario import grid_scenario, random_demand, user_scenario

pytestmark = [pytest.mark.sumo, pytest.mark.slow]

DURATION_S = 400.0


def game(rel: str) -> Path:
    import sumo

    return Path(sumo.SUMO_HOME) / "tools" / "game" / rel


REAL_NETS = {
    "berlin": "DRT/osm.net.xml",  # OSM, 15 signals
    "braunschweig": "bs3d/bs.net.xml",  # OSM, red+yellow 'u' phases
    "braunschweig-peds": "fokr_bs_demo/fokr_bs.net.xml.gz",  # 46 links with 8 crossings
    "a10": "A10KW/osm.net.xml",  # OSM motorway junction
    "square": "square/square.net.xml",  # 12 signals
}


@pytest.mark.parametrize("name", sorted(REAL_NETS))
def test_fixed_time_on_a_real_network_is_safe_and_unrejected(name, tmp_path):
    net = game(REAL_NETS[name])
    demand = random_demand(net, tmp_path, seed=3, end_s=DURATION_S, period_s=2.0)
    sc = user_scenario(net, [demand], tmp_path, seed=3, end_s=DURATION_S, name=name)
    r = run_scenario(sc, duration_s=DURATION_S, out_dir=tmp_path / "runs")
    assert r.signals > 0 and r.sim_s == DURATION_S
    assert r.guard_rejections == 0
    assert r.safety_violations == 0, r.violations_by_rule
    assert r.departed > 0


def test_grid_run_is_safe_and_identical_on_both_backends(tmp_path):
    sc = grid_scenario(tmp_path, size="4x4", seed=5, end_s=900.0, load="moderate")
    runs = [
        run_scenario(sc, backend=b, duration_s=900.0, out_dir=tmp_path / b) for b in ("libsumo", "traci")
    ]
    for r in runs:
        assert (r.safety_violations, r.guard_rejections, r.teleports) == (0, 0, 0)
        assert r.arrived > 500
    lib, traci = runs
    assert (lib.arrived, lib.mean_time_loss_s, lib.p95_time_loss_s) == (
        traci.arrived, traci.mean_time_loss_s, traci.p95_time_loss_s
    )
