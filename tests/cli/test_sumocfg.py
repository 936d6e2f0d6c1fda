"""``clearway run`` / ``clearway evaluate`` on a user's own SUMO files: ``--sumocfg``,
``--begin-s`` and ``--duration-s`` counted from the begin, as a new user would try them.

The scenario's demand starts at 3600 s: a run that began at 0 would step an empty hour first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLEARWAY = [sys.executable, "-m", "clearway.cli"]
BEGIN_S = 3600.0
END_S = 4200.0


def clearway(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLEARWAY, *args], cwd=cwd, capture_output=True, text=True, env={"COLUMNS": "200", "PATH": ""},
        timeout=300,
    )  # fmt: skip


def write_cfg(path: Path, body: str) -> Path:
    path.write_text(f"<configuration>\n{body}\n</configuration>\n")
    return path


@pytest.fixture(scope="module")
def late_city(tmp_path_factory) -> Path:
    """A 3x3 signalised grid whose random demand departs in [3600, 3900) s, and a cfg
    (``city/late.sumocfg``, paths relative to it) that runs it from 3600 to 4200 s."""
    from clearway.sim.sumo_env import tool
    from tests.fakes.networks import netgenerate_grid

    city = tmp_path_factory.mktemp("late") / "city"
    (city / "net").mkdir(parents=True)
    net = netgenerate_grid(city / "net" / "g.net.xml", 3, "--grid.attach-length", "150",
                           block_m=150.0)  # fmt: skip
    subprocess.run(
        [sys.executable, str(tool("randomTrips.py")), "-n", str(net), "-b", f"{BEGIN_S:g}",
         "-e", f"{BEGIN_S + 300:g}", "-p", "3", "--seed", "1", "--fringe-factor", "10",
         "-o", str(city / "trips.xml"), "-r", str(city / "late.rou.xml")],
        check=True, capture_output=True, cwd=city, timeout=120,
    )  # fmt: skip
    write_cfg(city / "late.sumocfg", f"""
      <input><net-file value="net/g.net.xml"/><route-files value="late.rou.xml"/></input>
      <time><begin value="{BEGIN_S:g}"/><end value="{END_S:g}"/></time>
      <processing><time-to-teleport value="120"/></processing>
    """)  # fmt: skip
    return city


@pytest.mark.sumo
def test_run_with_only_a_sumocfg_runs_its_window_from_its_begin(late_city, tmp_path):
    out = tmp_path / "r.json"
    proc = clearway("run", "--sumocfg", str(late_city / "late.sumocfg"), "--out-dir",
                    str(tmp_path / "o"), "--json", str(out), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    # Began at the cfg's begin and simulated its end - begin: no empty hour stepped.
    assert data["begin_s"] == BEGIN_S and data["sim_s"] == END_S - BEGIN_S
    assert data["departed"] > 50 and data["arrived"] == data["departed"]
    assert data["safety_violations"] == 0
    # The cfg's option clearway does not apply is named, not silently dropped.
    assert "also sets time-to-teleport" in " ".join(proc.stderr.split())


@pytest.mark.sumo
def test_run_scenario_ticks_from_the_begin_and_counts_duration_from_there(late_city, tmp_path):
    """In process: the first tick is one step after the begin, and there are exactly
    duration_s ticks (the 3600 empty steps before the demand are never taken)."""
    from clearway.cli.scenarios import resolve_scenario
    from clearway.evaluation.run import run_scenario

    duration = 400.0
    sc = resolve_scenario(
        late_city / "net" / "g.net.xml", [late_city / "late.rou.xml"], None, seed=1,
        end_s=BEGIN_S + duration, out_dir=tmp_path, begin_s=BEGIN_S,
    )  # fmt: skip
    ticks: list[float] = []
    result = run_scenario(sc, duration_s=None, out_dir=tmp_path / "runs", on_tick=ticks.append)
    assert ticks[0] == BEGIN_S + 1.0 and ticks[-1] == BEGIN_S + duration
    assert len(ticks) == duration
    assert result.begin_s == BEGIN_S and result.sim_s == duration and result.arrived > 0


@pytest.mark.sumo
def test_explicit_options_beside_the_sumocfg_win_and_say_so(late_city, tmp_path):
    out = tmp_path / "r.json"
    proc = clearway(
        "run", "--sumocfg", str(late_city / "late.sumocfg"), "--begin-s", "3700",
        "--duration-s", "300", "--out-dir", str(tmp_path / "o"), "--json", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["begin_s"] == 3700.0 and data["sim_s"] == 300.0
    # Vehicles due before the later begin are not inserted (SUMO drops them), the rest drive.
    assert data["arrived"] > 0
    said = " ".join(proc.stderr.split())
    assert "--begin-s 3700 overrides begin 3600 s of late.sumocfg" in said
    assert "the run ends at 4000 s, not at end 4200 s of late.sumocfg" in said


@pytest.mark.sumo
def test_run_with_begin_s_and_duration_s_on_net_and_routes(late_city, tmp_path):
    out = tmp_path / "r.json"
    proc = clearway(
        "run", "--net", str(late_city / "net" / "g.net.xml"), "--routes",
        str(late_city / "late.rou.xml"), "--begin-s", f"{BEGIN_S:g}", "--duration-s", "500",
        "--out-dir", str(tmp_path / "o"), "--json", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["begin_s"] == BEGIN_S and data["sim_s"] == 500.0 and data["arrived"] > 50


@pytest.mark.sumo
def test_evaluate_with_a_sumocfg_times_trips_from_its_begin(late_city, tmp_path):
    out = tmp_path / "e.json"
    proc = clearway(
        "evaluate", "--sumocfg", str(late_city / "late.sumocfg"),
        "--priority", "left1A1:C1right1@3700", "--strategies", "none,corridor", "--seeds", "1",
        "--workers", "2", "--out-dir", str(tmp_path / "o"), "--json", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    case = json.loads(out.read_text())
    case = case["results"][0] if "results" in case else case
    assert case["begin_s"] == BEGIN_S and case["duration_s"] == END_S - BEGIN_S
    (trip,) = case["trips"]
    assert trip["depart_s"] == 3700.0 and 20 < trip["free_flow_time_s"] < 120
    for row in case["rows"]:
        assert row["priority_arrived"] and row["priority_travel_time_s"] >= trip["free_flow_time_s"] - 1
    corridor = next(r for r in case["rows"] if r["strategy"] == "corridor")
    assert corridor["safety_violations"] == 0
    # Others' arrivals are counted per interval from the begin: the first minutes after
    # 3600 s already see arrivals, and no bin stands for the hour before the begin.
    (ref,) = case["reference"]
    counts = ref["others_arrivals"]["counts"]
    interval = ref["others_arrivals"]["interval_s"]
    assert len(counts) == pytest.approx((END_S - BEGIN_S) / interval, abs=1)
    assert sum(counts[:3]) > 0 and sum(counts) == ref["vehicles"] - ref.get("undeparted", 0)


# --- bad input: a clear error, exit code 2, no traceback (no SUMO needed) ------------------


@pytest.fixture
def dummy_files(tmp_path) -> Path:
    """Files that exist (their content is never read: every case fails before)."""
    for name in ("n.net.xml", "r.rou.xml"):
        (tmp_path / name).write_text("<x/>")
    return tmp_path


def _refused(cwd: Path, *args: str) -> str:
    proc = clearway(*args, cwd=cwd)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return " ".join(proc.stderr.split())


@pytest.mark.parametrize("command", ["run", "evaluate"])
def test_a_missing_sumocfg(dummy_files, command):
    said = _refused(dummy_files, command, "--sumocfg", "nope.sumocfg")
    assert "SUMO configuration nope.sumocfg not found" in said


def test_a_sumocfg_without_a_net_file(dummy_files):
    write_cfg(dummy_files / "c.sumocfg", '<input><route-files value="r.rou.xml"/></input>')
    said = _refused(dummy_files, "run", "--sumocfg", "c.sumocfg")
    assert "names no network" in said and "<net-file" in said


def test_a_file_the_sumocfg_names_that_does_not_exist(dummy_files):
    write_cfg(dummy_files / "c.sumocfg",
              '<input><net-file value="n.net.xml"/><route-files value="r.rou.xml,gone.rou.xml"/>'
              "</input>")  # fmt: skip
    said = _refused(dummy_files, "evaluate", "--sumocfg", "c.sumocfg", "--priority", "a:b@10")
    assert "route-files names" in said and "gone.rou.xml, which does not exist" in said


def test_begin_not_before_the_sumocfg_end(dummy_files):
    write_cfg(dummy_files / "c.sumocfg", '<net-file value="n.net.xml"/>'
              '<route-files value="r.rou.xml"/><end value="4200"/>')  # fmt: skip
    said = _refused(dummy_files, "run", "--sumocfg", "c.sumocfg", "--begin-s", "4200")
    assert "--begin-s 4200 s is not before end 4200 s of c.sumocfg" in said


def test_begin_not_before_end_inside_the_sumocfg(dummy_files):
    write_cfg(dummy_files / "c.sumocfg", '<net-file value="n.net.xml"/>'
              '<time><begin value="7:00:00"/><end value="25200"/></time>')  # fmt: skip
    said = _refused(dummy_files, "run", "--sumocfg", "c.sumocfg")
    assert "begin 25200 s is not before end 25200 s" in said


@pytest.mark.parametrize("command", ["run", "evaluate"])
def test_a_negative_begin(dummy_files, command):
    said = _refused(dummy_files, command, "--net", "n.net.xml", "--routes", "r.rou.xml",
                    "--begin-s", "-5")  # fmt: skip
    assert "--begin-s must be a time >= 0 s, got -5" in said


def test_a_duration_that_is_not_positive(dummy_files):
    said = _refused(dummy_files, "run", "--net", "n.net.xml", "--routes", "r.rou.xml",
                    "--duration-s", "0")  # fmt: skip
    assert "--duration-s must be a positive time (s), got 0" in said


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scenario", "grid:3x3", "--begin-s", "100"], "built-in scenarios run from 0 s"),
        (["--net", "n.net.xml", "--begin-s", "100"], "--begin-s 100 needs your own demand"),
        (["--sumocfg", "c.sumocfg", "--scenario", "grid:3x3"], "give it or --scenario, not both"),
    ],
)
@pytest.mark.parametrize("command", ["run", "evaluate"])
def test_a_begin_where_clearway_makes_the_demand(dummy_files, command, args, message):
    write_cfg(dummy_files / "c.sumocfg", '<net-file value="n.net.xml"/>')
    assert message in _refused(dummy_files, command, *args)


@pytest.mark.sumo
def test_a_priority_trip_before_the_begin(late_city, tmp_path):
    said = _refused(tmp_path, "evaluate", "--sumocfg", str(late_city / "late.sumocfg"),
                    "--priority", "left1A1:C1right1@300", "--out-dir", str(tmp_path / "o"))  # fmt: skip
    assert "depart before the run begins at 3600 s" in said and "e.g. @3900" in said


@pytest.mark.sumo
def test_the_sumocfg_import_osm_writes_runs_as_it_is(tmp_path):
    """import-osm lists clearway's detector file in its cfg: a run of that cfg must not load
    the detectors twice (SUMO refuses a detector declared twice)."""
    osm = Path(__file__).parents[1] / "data" / "osm" / "West-Oakland.osm.bz2"
    proc = clearway("import-osm", str(osm), "--out", str(tmp_path / "city"), "--end-s", "200",
                    cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "r.json"
    proc = clearway("run", "--sumocfg", str(tmp_path / "city" / "West-Oakland.sumocfg"),
                    "--out-dir", str(tmp_path / "o"), "--json", str(out), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["sim_s"] == 200.0 and data["arrived"] > 0
    assert "West-Oakland.det.xml: clearway's own detectors" in " ".join(proc.stderr.split())
