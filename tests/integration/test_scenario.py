"""Scenario building with the real SUMO tools: grid, demand, detectors, caching."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from clearway.errors import ConfigError, NetworkError, SimulationError
from clearway.network import load_network
from clearway.sim.scenario import (
    DETECTOR_LENGTH_M,
    DETECTOR_PREFIX,
    build_grid,
    detector_lanes,
    grid_scenario,
    random_demand,
    user_scenario,
    write_lane_detectors,
)
from clearway.sim.sumo_env import run_tool, sumo_binary, sumo_home, tool

pytestmark = pytest.mark.sumo


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("scenarios")


@pytest.fixture(scope="module")
def grid3(cache):
    return grid_scenario(cache, "3x3", seed=1, end_s=300, load="moderate")


def test_sumo_home_has_binaries_and_tools():
    import libsumo  # noqa: F401  - would point SUMO_HOME at sumo_data if imported first

    home = sumo_home()
    assert os.environ["SUMO_HOME"] == str(home)
    for name in ("sumo", "netgenerate", "netconvert", "duarouter"):
        assert os.access(sumo_binary(name), os.X_OK)
    assert tool("randomTrips.py").is_file()


def test_missing_program_or_tool_is_a_clear_error():
    with pytest.raises(SimulationError, match="not found"):
        sumo_binary("no-such-program")
    with pytest.raises(SimulationError, match="not found"):
        tool("noSuchTool.py")


def test_failing_tool_reports_its_stderr():
    with pytest.raises(SimulationError, match="checking the net") as err:
        run_tool([sumo_binary("sumo"), "-n", "does-not-exist.net.xml"], what="checking the net")
    assert "does-not-exist.net.xml" in str(err.value)


def test_grid_has_a_signal_at_every_grid_junction(grid3):
    net = load_network(grid3.net_file)
    assert len(net.traffic_lights) == 9
    # Fringe roads are attached, so every grid junction is a four-arm crossroads.
    for tl in net.traffic_lights.values():
        (jid,) = tl.junction_ids
        approaches = {
            net.lane(lane).edge_id
            for lane in net.junction(jid).incoming_lanes
            if not lane.startswith(":")
        }
        assert len(approaches) == 4


def test_grid_is_cached_by_its_inputs(cache, grid3):
    again = build_grid(cache, nx=3, ny=3)
    assert again == grid3.net_file
    mtime = again.stat().st_mtime_ns
    assert build_grid(cache, nx=3, ny=3).stat().st_mtime_ns == mtime
    other = build_grid(cache, nx=3, ny=3, lanes=1)
    assert other != again and other.is_file()


def test_grid_scenario_reuses_all_files(cache, grid3):
    files = [grid3.net_file, *grid3.route_files, grid3.detector_file]
    mtimes = [f.stat().st_mtime_ns for f in files]
    again = grid_scenario(cache, "3x3", seed=1, end_s=300, load="moderate")
    assert again == grid3
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    # Another seed or load shares the network but not the demand.
    other = grid_scenario(cache, "3x3", seed=2, end_s=300, load="heavy")
    assert other.net_file == grid3.net_file
    assert other.route_files != grid3.route_files
    assert other.seed == 2 and other.end_s == 300.0
    assert "heavy" in other.name


def test_demand_is_routed_passenger_cars(grid3):
    root = ET.parse(grid3.route_files[0]).getroot()
    vehicles = root.findall("vehicle")
    assert len(vehicles) > 50
    assert all(v.find("route") is not None for v in vehicles)
    vtypes = {t.get("vClass", t.get("id")) for t in root.findall("vType")}
    assert vtypes == {"passenger"}
    departs = [float(v.get("depart")) for v in vehicles]
    assert min(departs) >= 0 and max(departs) < 300


def test_heavier_load_means_more_vehicles(cache, grid3):
    heavy = grid_scenario(cache, "3x3", seed=1, end_s=300, load="heavy")

    def count(s):
        return len(ET.parse(s.route_files[0]).getroot().findall("vehicle"))

    assert count(heavy) > 1.5 * count(grid3)


def test_detectors_cover_every_incoming_lane_up_to_the_stop_line(grid3):
    net = load_network(grid3.net_file)
    expected = {
        link.from_lane
        for tl in net.traffic_lights
        for link in net.signal_links(tl)
        if not link.from_lane.startswith(":")
    }
    dets = ET.parse(grid3.detector_file).getroot().findall("laneAreaDetector")
    assert {d.get("lane") for d in dets} == expected
    assert len(dets) == len(expected) == 9 * 4 * 2  # 9 junctions, 4 approaches, 2 lanes
    for d in dets:
        lane = net.lane(d.get("lane"))
        assert d.get("id") == DETECTOR_PREFIX + lane.id
        assert float(d.get("endPos")) == pytest.approx(lane.length_m, abs=0.01)
        length = float(d.get("endPos")) - float(d.get("pos"))
        assert length == pytest.approx(min(lane.length_m, DETECTOR_LENGTH_M), abs=0.02)


def test_short_lanes_get_short_detectors(grid3, tmp_path):
    net = load_network(grid3.net_file)
    out = write_lane_detectors(net, tmp_path / "d.xml", length_m=1000.0)
    for d in ET.parse(out).getroot().findall("laneAreaDetector"):
        assert float(d.get("pos")) == pytest.approx(0.0, abs=0.01)
    assert [lane for lane, _ in detector_lanes(net)] == sorted(
        lane for lane, _ in detector_lanes(net)
    )


def test_user_scenario_writes_detectors_in_out_dir(grid3, tmp_path):
    s = user_scenario(grid3.net_file, grid3.route_files, tmp_path / "user", seed=4, end_s=60)
    assert s.detector_file is not None and s.detector_file.parent == (tmp_path / "user").resolve()
    assert s.detector_file.read_text() == grid3.detector_file.read_text()
    assert s.seed == 4 and s.end_s == 60.0 and s.route_files == grid3.route_files
    with pytest.raises(NetworkError, match="not found"):
        user_scenario(tmp_path / "missing.net.xml", [], tmp_path)


def test_random_demand_on_a_user_network(grid3, tmp_path):
    routes = random_demand(grid3.net_file, tmp_path, seed=3, end_s=100, period_s=5.0)
    assert len(ET.parse(routes).getroot().findall("vehicle")) == pytest.approx(20, abs=2)
    assert [p.name for p in tmp_path.iterdir()] == [routes.name]  # no side files left


@pytest.mark.parametrize("size", ["3", "0x3", "axb"])
def test_bad_grid_size(size, tmp_path):
    with pytest.raises(ConfigError, match="grid size"):
        grid_scenario(tmp_path, size)


def test_bad_load(tmp_path):
    with pytest.raises(ConfigError, match="unknown load"):
        grid_scenario(tmp_path, "2x2", load="rush-hour")  # type: ignore[arg-type]
