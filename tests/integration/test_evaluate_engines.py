"""``clearway evaluate`` keeps going when a run fails, streams every run as JSON lines, and the
Ray engine measures exactly what the process pool measures."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import clearway.evaluation.sweep as sweep_module
from clearway.cli.app import app
from clearway.evaluation.evaluate import EvaluationSettings, evaluate
from clearway.evaluation.priority_scenarios import build_plan, grid_setup
from clearway.evaluation.trip_spec import TripRequest

pytestmark = pytest.mark.sumo

#: Fields of a row that do not depend on wall-clock time or on where the run executed.
DETERMINISTIC = (
    "strategy", "seed", "priority_travel_time_s", "ratio", "stops", "priority_arrived",
    "others_extra_delay_veh_h", "cross_street_extra_delay_veh_h", "mean_time_loss_s",
    "safety_violations", "teleports",
)  # fmt: skip


def test_a_failed_run_is_reported_and_the_others_are_kept(tmp_path, monkeypatch):
    real_jobs = sweep_module.plan_jobs

    def jobs_with_a_broken_corridor_run(*args, **kwargs):
        # The corridor run gets a network file that does not exist: SUMO fails in the worker.
        return [
            replace(j, scenario=replace(j.scenario, net_file=tmp_path / "missing.net.xml"))
            if j.label == "corridor"
            else j
            for j in real_jobs(*args, **kwargs)
        ]

    monkeypatch.setattr(sweep_module, "plan_jobs", jobs_with_a_broken_corridor_run)
    lines, out = tmp_path / "runs.jsonl", tmp_path / "e.json"
    result = CliRunner().invoke(app, [
        "evaluate", "--scenario", "grid:3x3", "--priority", "left1A1:C1right1@60",
        "--strategies", "none,local,corridor", "--seeds", "1", "--duration-s", "250",
        "--workers", "2", "--out-dir", str(tmp_path / "o"), "--jsonl", str(lines),
        "--json", str(out),
    ])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "1 run(s) failed" in result.output and "failed runs" in result.output
    runs = {r["label"]: r for r in map(json.loads, lines.read_text().splitlines())}
    assert set(runs) == {"reference", "none", "local", "corridor"}
    failed = runs["corridor"]
    assert failed["status"] == "failed" and "corridor run, seed 1" in failed["error"]
    assert failed["scenario"] and failed["strategy"] == "corridor" and failed["seed"] == 1
    assert all(r["normal"] == "fixed-time" for r in runs.values())
    for label in ("reference", "none", "local"):
        assert runs[label]["status"] == "ok" and runs[label]["seed"] == 1
    assert runs["reference"]["others_total_delay_veh_h"] > 0
    assert runs["local"]["priority_arrived"] and runs["local"]["others_total_delay_veh_h"] > 0
    data = json.loads(out.read_text())
    assert [f["label"] for f in data["failed"]] == ["corridor"]
    assert sorted(r["strategy"] for r in data["rows"]) == ["local", "none"]
    assert data["medians"]["corridor"]["seeds"] == 0 and len(data["reference"]) == 1
    assert data["medians"]["corridor"]["priority_arrived_all"] is None
    # The strategy line's raw totals give the row's extra delay against the reference line.
    local = next(r for r in data["rows"] if r["strategy"] == "local")
    extra = (
        runs["local"]["others_total_delay_veh_h"] - runs["reference"]["others_total_delay_veh_h"]
    )
    assert local["others_extra_delay_veh_h"] == pytest.approx(extra, abs=2e-4)


def test_ray_engine_gives_the_rows_of_the_process_engine(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'clearway[ray]')")
    setup = grid_setup(tmp_path, "3x3", "moderate", (TripRequest("left1A1", "C1right1", 60.0),))
    plan = build_plan(setup, [1], duration_s=250)
    base = EvaluationSettings(strategies=("none", "corridor"), workers=2)
    by_engine, walls = {}, {}
    for engine in ("process", "ray"):
        t0 = time.perf_counter()
        lines: list[dict] = []
        result = evaluate(
            plan, replace(base, engine=engine), tmp_path / engine, on_run=lines.append
        )
        walls[engine] = time.perf_counter() - t0
        assert not result.failed and len(lines) == 3
        assert all(line["status"] == "ok" for line in lines)
        by_engine[engine] = sorted(
            ({k: r[k] for k in DETERMINISTIC} for r in result.rows), key=lambda r: r["strategy"]
        )
    print(f"wall: process {walls['process']:.1f} s, ray {walls['ray']:.1f} s (with start-up)")
    assert by_engine["ray"] == by_engine["process"]
    assert len(by_engine["ray"]) == 2 and all(r["priority_arrived"] for r in by_engine["ray"])
