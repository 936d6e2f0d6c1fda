"""The command line end to end: clearway run / network info, results JSON, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sumo

CLEARWAY = [sys.executable, "-m", "clearway.cli"]
JSON_FIELDS = {
    "arrived", "mean_time_loss_s", "p95_time_loss_s", "safety_violations", "teleports",
    "wall_s", "sim_s_per_wall_s",
}


def clearway(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLEARWAY, *args], cwd=cwd, capture_output=True, text=True, env={"COLUMNS": "100", "PATH": ""}
    )


def test_run_grid_writes_documented_json_and_prints_the_table(tmp_path):
    out = tmp_path / "r.json"
    proc = clearway(
        "run", "--scenario", "grid:3x3", "--seed", "2", "--duration-s", "300",
        "--out-dir", str(tmp_path / "o"), "--json", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert set(data) >= JSON_FIELDS
    assert data["safety_violations"] == 0 and data["guard_rejections"] == 0
    assert data["arrived"] > 0 and data["sim_s"] == 300
    for label in ("vehicles arrived", "95th percentile time loss", "safety-monitor violations",
                  "teleports", "simulated s per wall s"):  # fmt: skip
        assert label in proc.stdout


def test_run_a_user_network_with_the_traci_backend(tmp_path):
    import sumo

    net = Path(sumo.SUMO_HOME) / "tools" / "game" / "fokr_bs_demo" / "fokr_bs.net.xml.gz"
    out = tmp_path / "r.json"
    proc = clearway(
        "run", "--net", str(net), "--backend", "traci", "--duration-s", "200",
        "--out-dir", str(tmp_path / "o"), "--json", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["backend"] == "traci" and data["safety_violations"] == 0
    assert data["guard_rejections"] == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--net", "missing.net.xml"], "network file not found"),
        (["run", "--net", "notes.txt"], "is not XML"),
        (["run", "--scenario", "grid:5"], "unknown scenario"),
        (["run"], "give either --net"),
        (["run", "--scenario", "grid:3x3", "--timings", "t.toml"], "yellow_s = 2.0 s is unsafe"),
        (["network", "info", "missing.net.xml"], "network file not found"),
    ],
)
def test_bad_input_gives_a_clear_error_and_exit_code_2(tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("not a network")
    (tmp_path / "t.toml").write_text('[defaults]\nyellow_s = 2.0\n')
    proc = clearway(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in " ".join(proc.stderr.split()), proc.stderr
    assert "Traceback" not in proc.stderr


def test_network_info_counts_signals_and_lists_problems(tmp_path):
    import sumo

    net = Path(sumo.SUMO_HOME) / "tools" / "game" / "fkk_in" / "ingolstadt.net.xml.gz"
    out = tmp_path / "info.json"
    proc = clearway("network", "info", str(net), "--json", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["summary"]["traffic_lights"] == 2
    problems = data["problems"]
    assert any("'gneJ21': state positions 2 drive no link" in p for p in problems)
    # This hand-edited junction's own program shows greens its right of way forbids.
    assert any("'gneJ21'" in p and "conflicting greens" in p for p in problems)
    assert f"problems found: {len(problems)}" in proc.stdout
