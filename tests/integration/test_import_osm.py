"""``clearway import-osm`` end to end on a real map, broken maps, and ``--demand-scale``."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from clearway.errors import ConfigError
from clearway.evaluation.run import run_scenario
from clearway.sim.launch import sumo_command
from clearway.sim.osm_import import import_osm
from clearway.sim.priority_trips import PriorityTrip, with_priority_trips
from clearway.sim.scenario import Scenario, random_demand, user_scenario
from clearway.sim.sumo_env import run_tool, sumo_binary

pytestmark = pytest.mark.sumo

DATA = Path(__file__).resolve().parents[1] / "data" / "osm"
WEST_OAKLAND = DATA / "West-Oakland.osm.bz2"
CLEARWAY = [sys.executable, "-m", "clearway.cli"]


def clearway(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLEARWAY, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": ""},
    )


@pytest.fixture(scope="module")
def oakland(tmp_path_factory):
    """West Oakland imported through the CLI (bz2 input): (stdout, report JSON)."""
    work = tmp_path_factory.mktemp("oakland")
    proc = clearway(
        "import-osm", str(WEST_OAKLAND), "--out", str(work / "net"), "--seed", "3",
        "--end-s", "300", "--json", str(work / "report.json"), cwd=work,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads((work / "report.json").read_text())


def test_west_oakland_becomes_a_network_with_signals_detectors_demand_and_config(oakland):
    stdout, report = oakland
    assert report["traffic_lights"] >= 1 and report["signalised_junctions"] >= 1
    assert report["junctions"] > 10 and report["edges"] > 20 and report["detectors"] > 0
    assert report["osm_tagged_signals"] == 4  # what the map says, for comparison
    assert report["signals_guessed"] is False  # the map tags signals: none invented
    assert report["problems"] == []
    for key in ("net_file", "detector_file", "routes_file", "config_file"):
        assert Path(report[key]).is_file(), key
    assert Path(report["net_file"]).name == "West-Oakland.net.xml"
    # Detectors are clearway's own (cw_<lane>) on the lanes entering the signals.
    detectors = ET.parse(report["detector_file"]).getroot().findall("laneAreaDetector")
    assert len(detectors) == report["detectors"]
    assert all(d.get("id").startswith("cw_") for d in detectors)
    # What could not be modeled: netconvert's warnings counted per kind, ids blanked out.
    assert sum(report["warnings_by_kind"].values()) == report["warnings"] > 0
    assert all(kind in report["warning_examples"] for kind in report["warnings_by_kind"])
    assert not any(ch.isdigit() for kind in report["warnings_by_kind"] for ch in kind)
    assert report["dropped_road_ways"].get("footway", 0) > 0  # cars only, on purpose
    for label in ("signalised junctions", "lane-area detectors", "warnings by kind"):
        assert label in stdout


def test_the_sumocfg_runs_in_plain_sumo(oakland):
    _, report = oakland
    run_tool(
        [sumo_binary("sumo"), "-c", report["config_file"], "--end", "60", "--no-step-log", "true"],
        what="running the imported .sumocfg",
    )


def test_imported_network_runs_300_s_under_clearway_without_safety_violations(oakland, tmp_path):
    _, report = oakland
    out = tmp_path / "run.json"
    proc = clearway(
        "run", "--net", report["net_file"], "--routes", report["routes_file"],
        "--duration-s", "300", "--out-dir", str(tmp_path / "o"), "--json", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["signals"] == report["traffic_lights"]
    assert result["safety_violations"] == 0 and result["guard_rejections"] == 0
    assert result["departed"] > 50 and result["arrived"] > 0


OSM_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
NO_ROADS = OSM_HEAD + (
    '  <node id="1" lat="37.80" lon="-122.30"/>\n  <node id="2" lat="37.81" lon="-122.30"/>\n'
    '  <way id="10"><nd ref="1"/><nd ref="2"/><tag k="building" v="yes"/></way>\n</osm>\n'
)
MISSING_NODES = OSM_HEAD + (
    '  <node id="1" lat="37.80" lon="-122.30"/>\n'
    '  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="primary"/></way>\n'
    "</osm>\n"
)


def test_a_map_without_signal_tags_gets_guessed_signals(tmp_path):
    # Two 4-lane 50 km/h primary roads crossing, ~400 m each way: netconvert signals the
    # junction (at 80 km/h it would not: it guesses signals for urban junctions only).
    nodes = {1: (37.800, -122.300), 2: (37.804, -122.300), 3: (37.796, -122.300),
             4: (37.800, -122.2955), 5: (37.800, -122.3045)}  # fmt: skip
    body = "".join(f'  <node id="{i}" lat="{la}" lon="{lo}"/>\n' for i, (la, lo) in nodes.items())
    for way_id, refs in ((10, (3, 1, 2)), (11, (5, 1, 4))):
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tags = '<tag k="highway" v="primary"/><tag k="maxspeed" v="50"/><tag k="lanes" v="4"/>'
        body += f'  <way id="{way_id}">{nds}{tags}</way>\n'
    (tmp_path / "cross.osm").write_text(OSM_HEAD + body + "</osm>\n")
    report = import_osm(tmp_path / "cross.osm", tmp_path / "out", end_s=120, period_s=10)
    assert report.osm_tagged_signals == 0 and report.signals_guessed
    assert report.traffic_lights == 1 and report.detectors > 0, report


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("absent.osm", None, "absent.osm does not exist"),
        ("notes.osm", "these are my notes, not a map\n", "is not well-formed XML"),
        ("empty.osm", "", "empty.osm is empty"),
        ("buildings.osm", NO_ROADS, "'Error: No nodes loaded.'; it has no roads"),
        ("holes.osm", MISSING_NODES, "point to nodes missing from the file (e.g. ref=2)"),
    ],
)
def test_broken_osm_files_give_a_clear_error_and_exit_code_2(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_text(content)
    proc = clearway("import-osm", name, "--out", "out", cwd=tmp_path)
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 2, proc.stderr
    assert message in err and name in err, err
    assert "Traceback" not in proc.stderr


# -- --demand-scale ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def light_demand(oakland, tmp_path_factory):
    """A light demand (one trip every 6 s) on West Oakland: room to double it without a jam."""
    _, report = oakland
    out = tmp_path_factory.mktemp("scaled")
    routes = random_demand(report["net_file"], out, seed=5, end_s=300, period_s=6.0)
    return user_scenario(report["net_file"], [routes], out, seed=5, end_s=300)


def test_demand_scale_two_roughly_doubles_the_vehicles_that_depart(light_demand, tmp_path):
    departed = {}
    for scale in (1.0, 2.0):
        result = run_scenario(
            replace(light_demand, demand_scale=scale), duration_s=300, out_dir=tmp_path / str(scale)
        )
        assert result.safety_violations == 0 and result.demand_scale == scale
        departed[scale] = result.departed
    assert departed[1.0] > 20
    assert 1.7 <= departed[2.0] / departed[1.0] <= 2.3, departed


def test_demand_scale_leaves_priority_vehicles_alone(light_demand, tmp_path):
    # A route any car of the demand drives: drivable for the emergency vehicle too.
    routes = ET.parse(light_demand.route_files[0]).getroot()
    edges = max((r.get("edges").split() for r in routes.iter("route")), key=len)
    trip = PriorityTrip("amb", tuple(edges), depart_s=20.0)
    for scale in (0.5, 3.0):
        sc = with_priority_trips(replace(light_demand, demand_scale=scale), [trip], tmp_path)
        tripinfo = tmp_path / f"ti{scale}.xml"
        run_tool(sumo_command(sc, 1.0, tripinfo, None), what="running the scaled demand")
        ids = [t.get("id") for t in ET.parse(tripinfo).getroot().iter("tripinfo")]
        assert [i for i in ids if i.startswith("amb")] == ["amb"], scale


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf")])
def test_demand_scale_must_be_positive(light_demand, scale):
    with pytest.raises(ConfigError, match="demand scale must be a number > 0"):
        replace(light_demand, demand_scale=scale)


def test_a_scenario_is_unscaled_by_default(light_demand):
    assert light_demand.demand_scale == 1.0
    assert "--scale" not in sumo_command(light_demand, 1.0, None, None)
    assert Scenario.__dataclass_fields__["demand_scale"].default == 1.0


@pytest.mark.parametrize("command", ["run", "evaluate"])
def test_cli_refuses_a_non_positive_demand_scale(tmp_path, command):
    proc = clearway(command, "--scenario", "grid:3x3", "--demand-scale", "0", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "demand scale must be a number > 0" in " ".join(proc.stderr.split())
