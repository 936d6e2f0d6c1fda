"""``clearway evaluate`` over several scenarios × normal controllers: one engine call, one
progress count, lines of every case streamed, and a failing scenario reported with the others
kept."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import clearway.evaluation.sweep as sweep_module
from clearway.cli.app import app

pytestmark = pytest.mark.sumo

#: Two tiny scenarios, an ambulance after 60 s: each run simulates 250 s of a 3x3 grid.
SWEEP = [
    "evaluate", "--scenario", "grid:3x3:light", "--scenario", "grid:3x3",
    "--priority", "left1A1:C1right1@60", "--strategies", "none,corridor", "--seeds", "1",
    "--duration-s", "250", "--workers", "2",
]  # fmt: skip
LIGHT, MODERATE = "grid3x3-light", "grid3x3-moderate"


def _flat(text: str) -> str:
    # Rich wraps tables and long lines at the test console's width: compare without whitespace.
    return "".join(text.split())


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_sweep_runs_every_case_in_one_engine_call_under_one_progress_count(
    tmp_path, monkeypatch
):
    engine_calls, progress = [], []
    real_run_jobs, real_sweep = sweep_module.run_jobs, sweep_module.evaluate_sweep

    def counted_run_jobs(jobs, **kwargs):
        engine_calls.append(len(jobs))
        return real_run_jobs(jobs, **kwargs)

    def watched_sweep(cases, settings, *, on_progress=None, on_run=None):
        def hook(done: int, total: int, what: str) -> None:
            progress.append((done, total))
            on_progress(done, total, what)

        return real_sweep(cases, settings, on_progress=hook, on_run=on_run)

    monkeypatch.setattr(sweep_module, "run_jobs", counted_run_jobs)
    monkeypatch.setattr(sweep_module, "evaluate_sweep", watched_sweep)
    lines, out, figures = tmp_path / "runs.jsonl", tmp_path / "e.json", tmp_path / "fig"
    result = CliRunner().invoke(app, [
        *SWEEP, "--normal", "fixed-time,max-pressure", "--out-dir", str(tmp_path / "o"),
        "--jsonl", str(lines), "--json", str(out), "--figures", str(figures),
    ], env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    # 2 scenarios x 2 normals x 1 seed x (reference + 2 strategies), + 1 free-flow per scenario.
    assert engine_calls == [14]
    assert progress == [(done, 14) for done in range(1, 15)]
    cases = {(s, n) for s in (LIGHT, MODERATE) for n in ("fixed-time", "max-pressure")}
    got: dict[tuple[str, str], set[str]] = {}
    for line in _lines(lines):
        assert line["status"] == "ok" and line["seed"] == 1, line
        got.setdefault((line["scenario"], line["normal"]), set()).add(line["label"])
    assert got == {case: {"reference", "none", "corridor"} for case in cases}
    data = json.loads(out.read_text())
    assert data["scenarios"] == [LIGHT, MODERATE]
    assert data["normals"] == ["fixed-time", "max-pressure"] and data["failed"] == []
    assert {(r["scenario"], r["normal"]) for r in data["results"]} == cases
    for r in data["results"]:
        assert sorted(row["strategy"] for row in r["rows"]) == ["corridor", "none"]
        assert all(row["priority_arrived"] for row in r["rows"])
    printed = _flat(result.output)
    for scenario, normal in cases:
        assert _flat(f"clearway evaluate — {scenario} on {normal}") in printed
        assert (figures / scenario / normal / "others-extra-delay.png").is_file()
    assert _flat("swept 4 scenario × normal case(s)") in printed


def test_a_failing_scenario_is_reported_and_the_other_scenario_kept(tmp_path, monkeypatch):
    missing = tmp_path / "missing.net.xml"
    real_jobs, real_free_flow = sweep_module.plan_jobs, sweep_module.free_flow_job

    def jobs_of_a_broken_moderate_grid(plan, *args, **kwargs):
        # Every run of the second scenario gets a network file that does not exist: SUMO fails
        # in the worker, at run time, after the sweep has started.
        jobs = real_jobs(plan, *args, **kwargs)
        if plan.name != MODERATE:
            return jobs
        return [replace(j, scenario=replace(j.scenario, net_file=missing)) for j in jobs]

    def free_flow_of_a_broken_moderate_grid(plan, out_dir):
        job = real_free_flow(plan, out_dir)
        return replace(job, net_file=missing) if plan.name == MODERATE else job

    monkeypatch.setattr(sweep_module, "plan_jobs", jobs_of_a_broken_moderate_grid)
    monkeypatch.setattr(sweep_module, "free_flow_job", free_flow_of_a_broken_moderate_grid)
    lines, out = tmp_path / "runs.jsonl", tmp_path / "e.json"
    result = CliRunner().invoke(app, [
        *SWEEP, "--out-dir", str(tmp_path / "o"), "--jsonl", str(lines), "--json", str(out),
    ], env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 1, result.output
    assert _flat("4 run(s) failed") in _flat(result.output) and "failed runs" in result.output
    by_scenario: dict[str, dict[str, dict]] = {}
    for line in _lines(lines):
        assert line["normal"] == "fixed-time"
        by_scenario.setdefault(line["scenario"], {})[line["label"]] = line
    light, moderate = by_scenario[LIGHT], by_scenario[MODERATE]
    assert set(light) == set(moderate) == {"reference", "none", "corridor"}
    for line in light.values():
        assert line["status"] == "ok" and "free_flow_error" not in line
    assert light["corridor"]["priority_arrived"] and light["corridor"]["ratio"] > 0
    for label, line in moderate.items():
        assert line["status"] == "failed" and f"{label} run, seed 1" in line["error"]
        assert "free-flow run" in line["free_flow_error"]
    data = json.loads(out.read_text())
    kept, broken = data["results"]
    assert kept["scenario"] == LIGHT and kept["failed"] == [] and len(kept["rows"]) == 2
    assert broken["scenario"] == MODERATE and broken["rows"] == [] and broken["reference"] == []
    # The free-flow run first, then the seed's runs by label (as for one scenario).
    assert [f["label"] for f in broken["failed"]] == ["free-flow", "corridor", "none", "reference"]
    assert broken["trips"][0]["free_flow_time_s"] is None
    assert [(f["scenario"], f["normal"], f["label"]) for f in data["failed"]] == [
        (MODERATE, None, "free-flow"), (MODERATE, "fixed-time", "corridor"),
        (MODERATE, "fixed-time", "none"), (MODERATE, "fixed-time", "reference"),
    ]  # fmt: skip
