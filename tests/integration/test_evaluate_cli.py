"""``clearway evaluate`` end to end: documented JSON, figures, tables and clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sumo

CLEARWAY = [sys.executable, "-m", "clearway.cli"]
#: The JSON fields the README documents for every row.
ROW_FIELDS = {
    "scenario", "strategy", "seed", "priority_travel_time_s", "free_flow_time_s", "ratio",
    "stops", "priority_arrived", "others_extra_delay_veh_h", "cross_street_extra_delay_veh_h",
    "mean_time_loss_s", "p95_time_loss_s", "time_to_recover_s", "time_to_recover_max_s",
    "recoveries", "requests_completed", "safety_violations", "guard_rejections", "teleports",
    "wall_s", "trips",
}  # fmt: skip
TOP_FIELDS = {
    "scenario", "net", "strategies", "seeds", "duration_s", "reference_strategy", "bluelight",
    "driver_noise", "local_trigger_m", "backend", "trips", "cross_street_edges", "wall_s",
    "rows", "medians", "reference",
}  # fmt: skip


def clearway(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLEARWAY, *args], cwd=cwd, capture_output=True, text=True,
        env={"COLUMNS": "120", "PATH": ""}, timeout=600,
    )  # fmt: skip


def test_evaluate_compares_strategies_and_writes_json_and_figures(tmp_path):
    out = tmp_path / "e.json"
    proc = clearway(
        "evaluate", "--scenario", "grid:3x3", "--seeds", "2", "--duration-s", "500",
        "--workers", "2", "--out-dir", str(tmp_path / "o"), "--json", str(out),
        "--figures", str(tmp_path / "fig"), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert set(data) >= TOP_FIELDS
    assert data["strategies"] == ["none", "local", "corridor"] and data["seeds"] == [1, 2]
    assert len(data["rows"]) == 6 and len(data["reference"]) == 2
    for row in data["rows"]:
        assert set(row) >= ROW_FIELDS, set(ROW_FIELDS) - set(row)
        assert row["safety_violations"] == 0 and row["guard_rejections"] == 0
        assert row["priority_arrived"] and row["free_flow_time_s"] > 0
        assert row["ratio"] == pytest.approx(
            row["priority_travel_time_s"] / row["free_flow_time_s"], abs=0.01
        )
    med = data["medians"]
    assert set(med) == {"none", "local", "corridor"}
    # Giving priority must not make the ambulance slower than ignoring it.
    assert med["corridor"]["priority_travel_time_s"] <= med["none"]["priority_travel_time_s"]
    assert med["local"]["priority_travel_time_s"] <= med["none"]["priority_travel_time_s"]
    assert data["cross_street_edges"] and data["trips"][0]["signals"]
    figures = sorted(p.name for p in (tmp_path / "fig").iterdir())
    assert figures == [
        "others-extra-delay.png", "time-space-corridor.png", "time-space-local.png",
        "time-space-none.png",
    ]  # fmt: skip
    for label in ("priority travel time", "ratio to free flow", "others' extra delay",
                  "time to recover", "safety-monitor violations", "per seed"):  # fmt: skip
        assert label in proc.stdout


def test_convoy_on_a_user_network(tmp_path):
    from clearway.sim.scenario import build_grid

    net = build_grid(tmp_path / "net", nx=3, ny=3)
    out = tmp_path / "c.json"
    proc = clearway(
        "evaluate", "--net", str(net), "--convoy", "left1A1:C1right1@60:4",
        "--strategies", "none,corridor", "--seeds", "1", "--duration-s", "300",
        "--out-dir", str(tmp_path / "o"), "--json", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    (trip,) = data["trips"]
    assert trip["vehicles"] == 4 and trip["role"] == "convoy"
    for row in data["rows"]:
        assert row["trips"][0]["vehicles"] == 4 and row["priority_arrived"]
        # The convoy's time runs to its last vehicle: at least its 3 headways after the lead.
        assert row["priority_travel_time_s"] >= row["free_flow_time_s"] - 1.0 > 3 * 1.5


@pytest.fixture(scope="module")
def dead_end_net(tmp_path_factory):
    """A 3x3 grid without U-turns: its entry roads cannot be reached from inside."""
    from tests.fakes.networks import netgenerate_grid

    return netgenerate_grid(
        tmp_path_factory.mktemp("n") / "n.net.xml", 3, "--grid.attach-length", "200",
        "--no-turnarounds", "true",
    )  # fmt: skip


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--priority", "B1C1:left1A1@10", "the destination is not reachable"),
        ("--priority", "B1C9:C1right1@10", "unknown edge 'B1C9'"),
        ("--priority", "B1C1-C1right1@10", "is malformed"),
        ("--priority", "B1C1:C1right1@soon", "not a number of seconds"),
        ("--convoy", "B1C1:C1right1@10", "number of vehicles"),
        ("--strategies", "none,fast", "unknown strategies"),
    ],
)
def test_bad_input_gives_a_clear_error_and_exit_code_2(tmp_path, dead_end_net, option, value, message):
    args = ["evaluate", "--net", str(dead_end_net), "--seeds", "1", "--out-dir", str(tmp_path)]
    if option != "--priority":
        args += ["--priority", "B1C1:C1right1@10"]
    proc = clearway(*args, option, value, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in " ".join(proc.stderr.split()), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_network_needs_a_priority_trip(tmp_path, dead_end_net):
    proc = clearway("evaluate", "--net", str(dead_end_net), "--out-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "--net needs at least one priority trip" in proc.stderr


def test_priority_runs_on_top_of_the_normal_controller_chosen(tmp_path):
    out = tmp_path / "e.json"
    proc = clearway(
        "evaluate", "--scenario", "grid:3x3", "--seeds", "1", "--duration-s", "400",
        "--strategies", "local,corridor", "--normal", "max-pressure", "--workers", "2",
        "--out-dir", str(tmp_path / "o"), "--json", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["normal"] == "max-pressure"
    for row in data["rows"]:
        assert row["priority_arrived"] and row["safety_violations"] == 0
        assert row["guard_rejections"] == 0
    bad = clearway("evaluate", "--scenario", "grid:3x3", "--normal", "magic", cwd=tmp_path)
    assert bad.returncode == 2 and "--normal 'magic'" in bad.stderr + bad.stdout


@pytest.mark.slow
def test_reroute_takes_the_ambulance_round_the_detour_incident_only_when_asked(tmp_path):
    times = {}
    for flag in ("--reroute", "--no-reroute"):
        out = tmp_path / flag.strip("-")
        proc = clearway(
            "evaluate", "--scenario", "detour", "--seeds", "1", "--strategies", "corridor", flag,
            "--out-dir", str(out), "--json", str(out / "r.json"), cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        data = json.loads((out / "r.json").read_text())
        assert data["reroute"] is (flag == "--reroute")
        (row,) = data["rows"]
        assert row["priority_arrived"] and row["safety_violations"] == 0
        times[flag] = row["priority_travel_time_s"]
    assert times["--reroute"] < times["--no-reroute"] - 15.0, times
