"""Pedestrian delay in the results: SUMO's ``<personinfo>`` aggregated (count and mean time
loss, nothing per person), shown as "—" where nobody walked; ``grid:NxM[:load]:peds`` parsed."""

from __future__ import annotations

import math

import pytest
from rich.console import Console

from clearway.cli import scenarios as cli_scenarios
from clearway.cli.tables import results_table
from clearway.errors import ConfigError, SimulationError
from clearway.evaluation.metrics import read_personinfo, read_tripinfo
from clearway.evaluation.run import RunResult

TRIPINFO = """<tripinfos>
    <tripinfo id="car0" depart="1.00" arrival="50.00" duration="49.00" timeLoss="9.00" departDelay="0"/>
    <personinfo id="ped0" depart="2.00" duration="200.00" timeLoss="30.00" waitingTime="12.00">
        <walk depart="2.00" arrival="202.00" duration="200.00" timeLoss="30.00"/>
    </personinfo>
    <tripinfo id="car1" depart="3.00" arrival="-1" duration="40.00" timeLoss="5.00" departDelay="0"/>
    <personinfo id="ped1" depart="4.00" duration="100.00" timeLoss="10.00">
        <walk depart="4.00" arrival="104.00" duration="100.00" timeLoss="10.00"/>
    </personinfo>
    <personinfo id="ped2" depart="9.00" duration="-1" timeLoss="0.00">
        <walk depart="9.00" arrival="-1" duration="300.00" timeLoss="0.00"/>
    </personinfo>
</tripinfos>
"""


def test_persons_are_counted_apart_from_vehicles_and_unfinished_walks_left_out(tmp_path):
    path = tmp_path / "tripinfo.xml"
    path.write_text(TRIPINFO)
    peds = read_personinfo(path)
    # ped2 was still walking (written only with write-unfinished): its 0 would flatter.
    assert peds.persons == 2 and peds.mean_time_loss_s == pytest.approx(20.0)
    cars = read_tripinfo(path)
    assert cars.vehicles == 2 and cars.mean_time_loss_s == pytest.approx(7.0)


def test_nobody_walking_gives_no_figure_not_zero(tmp_path):
    path = tmp_path / "tripinfo.xml"
    path.write_text('<tripinfos><tripinfo id="a" depart="0" arrival="5" duration="5" '
                    'timeLoss="1"/></tripinfos>')  # fmt: skip
    peds = read_personinfo(path)
    assert peds.persons == 0 and math.isnan(peds.mean_time_loss_s)
    with pytest.raises(SimulationError, match="not found"):
        read_personinfo(tmp_path / "missing.xml")


def _result(**kw) -> RunResult:
    base = dict(scenario="s", strategy="actuated", backend="libsumo", seed=1, sim_s=600.0,
                arrived=10, departed=10, undeparted=0, mean_time_loss_s=5.0,
                p95_time_loss_s=9.0, safety_violations=0)  # fmt: skip
    return RunResult(**{**base, **kw})


def test_run_table_shows_pedestrian_delay_or_a_dash():
    console = Console(width=200, record=True)
    console.print(results_table([_result(persons=25, ped_time_loss_s=42.04), _result()]))
    text = console.export_text()
    walked = next(line for line in text.splitlines() if "pedestrians' mean time loss" in line)
    assert "42.0" in walked and "—" in walked and " 0.0" not in walked
    assert _result().to_dict()["ped_time_loss_s"] is None


@pytest.mark.parametrize(
    ("name", "peds"),
    [("grid:3x3:peds", True), ("grid:3x3:heavy:peds", True), ("grid:3x3:heavy", False)],
)
def test_grid_names_with_peds_pick_the_pedestrian_grid(tmp_path, monkeypatch, name, peds):
    seen = []
    monkeypatch.setattr(cli_scenarios, "ped_grid_scenario", lambda *a, **k: seen.append("peds"))
    monkeypatch.setattr(cli_scenarios, "grid_scenario", lambda *a, **k: seen.append("plain"))
    cli_scenarios.resolve_scenario(None, None, name, seed=1, end_s=60.0, out_dir=tmp_path)
    assert seen == ["peds" if peds else "plain"]
    cli_scenarios.check_scenario_names([name, "pedestrians"])


def test_a_misspelt_pedestrian_grid_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\[:peds\]"):
        cli_scenarios.check_scenario_names(["grid:3x3:ped"])
