"""``clearway demo`` (so ``make demo``) exits with code 1 when a run of its priority comparison
failed, after printing and writing everything it has; 0 when every run finished.

The demo's own scenarios are swapped for a 250 s 3x3 grid so the test takes seconds.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import clearway.cli.scenarios as cli_scenarios
import clearway.evaluation.priority_scenarios as priority_scenarios
import clearway.evaluation.sweep as sweep_module
from clearway.cli.app import app
from clearway.evaluation.trip_spec import TripRequest

pytestmark = pytest.mark.sumo


def _flat(text: str) -> str:
    return "".join(text.split())


@pytest.fixture
def tiny_demo(monkeypatch):
    """No fixed-time part; the priority comparison on a tiny grid instead of spillback."""

    def tiny_spillback(name, out_dir):
        trip = TripRequest("left1A1", "C1right1", 60.0)
        setup = priority_scenarios.grid_setup(out_dir, "3x3", "light", (trip,), name=name)
        return replace(setup, duration_s=250.0)

    monkeypatch.setattr(cli_scenarios, "demo_scenarios", lambda *a, **k: [])
    monkeypatch.setattr(priority_scenarios, "named_setup", tiny_spillback)


@pytest.mark.parametrize("broken", [True, False], ids=["a-run-fails", "all-runs-finish"])
def test_demo_exits_1_when_a_priority_run_failed(tmp_path, monkeypatch, tiny_demo, broken):
    if broken:
        real_jobs = sweep_module.plan_jobs

        def jobs_with_a_broken_corridor_run(*args, **kwargs):
            return [
                replace(j, scenario=replace(j.scenario, net_file=tmp_path / "missing.net.xml"))
                if j.label == "corridor"
                else j
                for j in real_jobs(*args, **kwargs)
            ]

        monkeypatch.setattr(sweep_module, "plan_jobs", jobs_with_a_broken_corridor_run)
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--out-dir", str(out), "--priority-seeds", "1"], env={"COLUMNS": "200"}
    )
    # Rich wraps at the test console's width (long tmp paths): compare without whitespace.
    printed = _flat(result.output)
    # Everything is printed and written either way.
    assert _flat(f"results written to {out}/") in printed
    assert _flat("clearway evaluate — spillback") in printed
    data = json.loads((out / "priority-spillback.json").read_text())
    assert (out / "figures" / "others-extra-delay.png").is_file()
    if not broken:
        assert result.exit_code == 0, result.output
        assert data["failed"] == [] and len(data["rows"]) == 3
        return
    assert result.exit_code == 1, result.output
    assert _flat("1 run(s) of the priority comparison failed") in printed
    assert _flat("spillback · corridor, seed 1: corridor run, seed 1") in printed
    assert [f["label"] for f in data["failed"]] == ["corridor"]
    assert sorted(r["strategy"] for r in data["rows"]) == ["local", "none"]
