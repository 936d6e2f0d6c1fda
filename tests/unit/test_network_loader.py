"""Loading SUMO networks: real nets shipped with eclipse-sumo, a generated grid, bad inputs.

Facts are checked against the net files themselves (parsed independently with ElementTree)
and against sumolib's own (slow) algorithms, not against numbers copied from a run.
"""

from __future__ import annotations

import dataclasses
import gzip
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest

from clearway.errors import (
    NetworkError,
    NoTrafficLightsError,
    UnknownEdgeError,
    UnknownJunctionError,
    UnknownSignalError,
)
from clearway.network import GeoReference, Network, Phase, SignalProgram, load_network
from clearway.network.diagnostics import network_problems, network_summary
from clearway.network.geo import lonlat_to_xy, xy_to_lonlat
from clearway.network.loader import require_traffic_lights
from tests.fakes.networks import NETGENERATE, netgenerate_grid

sumo = pytest.importorskip("sumo")
sumolib = pytest.importorskip("sumolib")

GAME = Path(sumo.SUMO_HOME) / "tools" / "game"
BERLIN = GAME / "DRT" / "osm.net.xml"
BRAUNSCHWEIG = GAME / "bs3d" / "bs.net.xml"
FOKR = GAME / "fokr_bs_demo" / "fokr_bs.net.xml.gz"
INGOLSTADT = GAME / "fkk_in" / "ingolstadt.net.xml.gz"

if not BERLIN.exists():  # pragma: no cover - depends on the installed wheel
    pytest.skip("eclipse-sumo's tools/game networks are not installed", allow_module_level=True)


# -- helpers ---------------------------------------------------------------------------------
def _open_any(path: Path):
    with path.open("rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if is_gzip else path.open("rb")


def _file_elements(path: Path, tag: str) -> list[dict[str, str]]:
    """Attributes of every ``<tag>`` in the file, read independently of sumolib."""
    with _open_any(path) as stream:
        return [dict(e.attrib) for _ev, e in ElementTree.iterparse(stream) if e.tag == tag]


def _netgenerate(out: Path, *, traffic_lights: bool) -> Path:
    if not NETGENERATE.exists():
        pytest.skip("netgenerate is not installed next to the Python interpreter")
    return netgenerate_grid(out, 3, traffic_lights=traffic_lights)


# -- fixtures (module scope: every net is loaded once) -----------------------------------------
@pytest.fixture(scope="module")
def berlin() -> Network:
    return load_network(BERLIN)


@pytest.fixture(scope="module")
def fokr() -> Network:
    return load_network(FOKR)


@pytest.fixture(scope="module")
def ingolstadt() -> Network:
    return load_network(INGOLSTADT)


@pytest.fixture(scope="module")
def grid_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("grid") / "grid.net.xml"
    return _netgenerate(out, traffic_lights=True)


@pytest.fixture(scope="module")
def grid(grid_path: Path) -> Network:
    return load_network(grid_path)


@pytest.fixture(scope="module")
def grid_without_lights(tmp_path_factory: pytest.TempPathFactory) -> Network:
    return load_network(
        _netgenerate(tmp_path_factory.mktemp("plain") / "plain.net.xml", traffic_lights=False)
    )


@pytest.fixture(scope="module")
def loaded(berlin: Network, fokr: Network, ingolstadt: Network) -> dict[Path, Network]:
    return {
        BERLIN: berlin,
        FOKR: fokr,
        INGOLSTADT: ingolstadt,
        BRAUNSCHWEIG: load_network(BRAUNSCHWEIG),
    }


# -- real networks ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", [BERLIN, BRAUNSCHWEIG, FOKR, INGOLSTADT], ids=lambda p: p.name)
def test_traffic_lights_and_programs_match_the_file(loaded: dict[Path, Network], path: Path):
    net = loaded[path]
    logics = _file_elements(path, "tlLogic")
    programs_in_file: dict[str, list[str]] = {}
    for logic in logics:
        programs_in_file.setdefault(logic["id"], []).append(logic["programID"])

    assert set(net.traffic_lights) == set(programs_in_file)
    for tl_id, program_ids in programs_in_file.items():
        tl = net.traffic_light(tl_id)
        assert list(tl.programs) == program_ids
        # SUMO starts each signal with the program loaded last.
        assert tl.default_program_id == program_ids[-1]
        assert all(len(ph.state) == tl.link_count for p in tl.programs.values() for ph in p.phases)


@pytest.mark.parametrize("path", [BERLIN, BRAUNSCHWEIG, FOKR, INGOLSTADT], ids=lambda p: p.name)
def test_junctions_edges_and_lanes_match_the_file(loaded: dict[Path, Network], path: Path):
    net = loaded[path]
    junctions = [j for j in _file_elements(path, "junction") if j["type"] != "internal"]
    edges = _file_elements(path, "edge")
    assert set(net.junctions) == {j["id"] for j in junctions}
    assert set(net.edges) == {e["id"] for e in edges}
    assert {e.function for e in net.edges.values()} <= {"", "internal", "crossing", "walkingarea"}
    assert len(net.lanes) == len(_file_elements(path, "lane"))
    for edge in net.edges.values():
        assert [net.lane(lid).edge_id for lid in edge.lane_ids] == [edge.id] * len(edge.lane_ids)


def test_berlin_counts(berlin: Network):
    summary = network_summary(berlin)
    assert summary["traffic_lights"] == 15
    assert summary["junctions"] == 1033  # the file's 1,911 <junction>s minus 878 internal ones
    assert summary["has_geo"] is True
    # Rail signals carry a tl id but no <tlLogic>: clearway leaves them unsignalised.
    rail = [j for j in berlin.junctions.values() if j.type in ("rail_signal", "rail_crossing")]
    assert rail
    assert not set(berlin.signalised_junction_ids) & {j.id for j in rail}


def test_junction_index_equals_sumolibs_own(fokr: Network):
    snet = sumolib.net.readNet(
        str(FOKR), withInternal=True, withPedestrianConnections=True, withPrograms=True
    )
    expected = {}
    for edge in snet.getEdges():
        for index, lane in enumerate(edge.getLanes()):
            for conn in lane.getOutgoing():
                to_lane = f"{conn.getTo().getID()}_{conn.getToLane().getIndex()}"
                expected[(f"{edge.getID()}_{index}", to_lane)] = conn.getJunctionIndex()
    assert fokr.links
    for link in fokr.links:
        assert link.junction_index == expected[(link.from_lane, link.to_lane)], link
    # Every row of every right-of-way matrix belongs to exactly one link.
    for junction in fokr.junctions.values():
        rows = sorted(lk.junction_index for lk in fokr.links if lk.junction_id == junction.id)
        assert rows == list(range(len(junction.foes)))


def test_link_attributes_come_from_the_connection(fokr: Network):
    tl = fokr.traffic_light("38")
    links = fokr.signal_links("38")
    assert {lk.signal_index for lk in links} == set(range(tl.link_count))
    for link in links:
        assert link.junction_id == "38"
        assert link.approach_speed_mps == fokr.lane(link.from_lane).speed_mps
        if link.via_lane is not None:
            assert link.length_m == fokr.lane(link.via_lane).length_m > 0
    connections = _file_elements(FOKR, "connection")
    left = next(c for c in connections if c["from"] == "-5.5" and c.get("linkIndex") == "2")
    link = next(lk for lk in links if lk.signal_index == 2)
    assert (link.from_edge, link.to_edge, link.direction) == ("-5.5", left["to"], left["dir"])


def test_pedestrian_crossings_are_links(fokr: Network):
    crossings = [lk for lk in fokr.links if lk.is_crossing]
    crossing_edges = {e.id for e in fokr.edges.values() if e.function == "crossing"}
    assert len(crossings) == len(crossing_edges) == 8
    for link in crossings:
        assert fokr.edge(link.from_edge).function == "walkingarea"
        assert link.to_edge in crossing_edges
        assert link.signal_id == "38"
        assert link.length_m == fokr.lane(link.to_lane).length_m > 0
        assert fokr.lane(link.to_lane).allowed == frozenset({"pedestrian"})
    # Sidewalk -> walking area is not a passage through the junction.
    assert not [lk for lk in fokr.links if fokr.edge(lk.to_edge).function == "walkingarea"]


def test_lonlat_round_trip_and_orig_boundary(berlin: Network):
    (location,) = _file_elements(BERLIN, "location")
    lon_min, lat_min, lon_max, lat_max = map(float, location["origBoundary"].split(","))
    snet_offset = tuple(map(float, location["netOffset"].split(",")))
    assert (berlin.geo.offset_x_m, berlin.geo.offset_y_m) == snet_offset
    for junction in list(berlin.junctions.values())[::50]:
        lon, lat = xy_to_lonlat(berlin.geo, junction.x_m, junction.y_m)
        assert lon_min <= lon <= lon_max and lat_min <= lat <= lat_max
        x_m, y_m = lonlat_to_xy(berlin.geo, lon, lat)
        assert abs(x_m - junction.x_m) < 0.01 and abs(y_m - junction.y_m) < 0.01


def test_lonlat_needs_a_projection(grid: Network):
    assert grid.geo is None
    with pytest.raises(NetworkError, match="no geo-reference"):
        xy_to_lonlat(grid.geo, 0.0, 0.0)
    with pytest.raises(NetworkError, match="no geo-reference"):
        lonlat_to_xy(None, 13.4, 52.5)
    with pytest.raises(NetworkError, match="not understood by PROJ"):
        xy_to_lonlat(GeoReference("+proj=no_such_projection", 0.0, 0.0), 0.0, 0.0)


def test_network_is_immutable(fokr: Network):
    with pytest.raises(dataclasses.FrozenInstanceError):
        fokr.junctions = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        fokr.junctions["new"] = fokr.junction("38")  # type: ignore[index]
    with pytest.raises(TypeError):
        del fokr.edges["-5.5"]  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fokr.junction("38").x_m = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fokr.links[0].signal_index = 99  # type: ignore[misc]
    with pytest.raises(TypeError):
        fokr.traffic_light("38").programs["x"] = None  # type: ignore[index]
    assert isinstance(fokr.links, tuple)
    assert isinstance(fokr.junction("38").foes, tuple)


# -- generated grid --------------------------------------------------------------------------
def test_grid_every_signal_index_drives_a_link(grid: Network, grid_path: Path):
    assert len(grid.traffic_lights) == len({t["id"] for t in _file_elements(grid_path, "tlLogic")})
    assert grid.traffic_lights
    for tl in grid.traffic_lights.values():
        driven = {lk.signal_index for lk in grid.signal_links(tl.id)}
        assert driven == set(range(tl.link_count)), tl.id
        assert tl.junction_ids == (tl.id,)
    assert network_problems(grid) == []


def test_grid_summary(grid: Network):
    summary = network_summary(grid)
    assert summary["junctions"] == 9
    assert summary["edges"] == 24  # 12 streets, both directions
    assert summary["lanes"] == 48
    assert summary["has_geo"] is False
    assert summary["bounds_m"] == (0.0, 0.0, 400.0, 400.0)
    assert summary["signalised_links"] == sum(t.link_count for t in grid.traffic_lights.values())
    assert summary["crossings"] == 0


def test_gzip_is_detected_by_content_not_name(grid_path: Path, tmp_path: Path):
    disguised = tmp_path / "compressed_but_named_plain.net.xml"
    disguised.write_bytes(gzip.compress(grid_path.read_bytes()))
    assert set(load_network(disguised).junctions) == set(load_network(grid_path).junctions)


# -- lookups and required signals ------------------------------------------------------------
def test_unknown_junction_suggests_near_ids(grid: Network):
    with pytest.raises(UnknownJunctionError, match="'b1'") as err:
        grid.junction("b1")
    assert "B1" in err.value.suggestions
    assert "grid.net.xml" in str(err.value)
    with pytest.raises(UnknownJunctionError) as err:
        grid.junction("A00")
    assert "A0" in err.value.suggestions
    assert isinstance(err.value, KeyError)  # callers may treat it as a missing key


def test_unknown_edge_and_signal(grid: Network):
    with pytest.raises(UnknownEdgeError, match="unknown edge 'A0B9'") as err:
        grid.edge("A0B9")
    assert "A0B0" in err.value.suggestions
    with pytest.raises(UnknownSignalError, match="unknown traffic light 'Z9'"):
        grid.signal_links("Z9")


def test_require_traffic_lights(grid: Network, grid_without_lights: Network):
    require_traffic_lights(grid)
    with pytest.raises(NoTrafficLightsError, match="plain.net.xml has no traffic lights") as err:
        require_traffic_lights(grid_without_lights)
    assert "--tls.guess" in str(err.value)


# -- diagnostics -----------------------------------------------------------------------------
def test_problems_name_the_ids(grid: Network):
    tl_id = sorted(grid.traffic_lights)[0]
    tl = grid.traffic_lights[tl_id]
    bad_program = SignalProgram("broken", "static", 0.0, (Phase(0.0, "G" * (tl.link_count - 1)),))
    lights = dict(grid.traffic_lights)
    lights[tl_id] = dataclasses.replace(
        tl,
        programs={"broken": bad_program},
        default_program_id="broken",
        link_count=tl.link_count + 2,
    )
    other = sorted(grid.traffic_lights)[1]
    lights[other] = dataclasses.replace(lights[other], programs={})
    broken = Network(
        source=Path("broken.net.xml"),
        junctions=grid.junctions,
        edges=grid.edges,
        lanes=grid.lanes,
        links=grid.links,
        traffic_lights=lights,
        geo=None,
        bounds_m=grid.bounds_m,
    )
    problems = "\n".join(network_problems(broken))
    assert f"traffic light {tl_id!r} program 'broken' phase 0 lasts 0.0 s" in problems
    assert f"state has {tl.link_count - 1} characters" in problems
    assert f"state positions {tl.link_count}-{tl.link_count + 1} drive no link" in problems
    assert f"traffic light {other!r} has no signal program" in problems


def test_signalised_link_without_matrix_row_is_a_problem(grid: Network):
    link = grid.signal_links(sorted(grid.traffic_lights)[0])[0]
    links = tuple(
        dataclasses.replace(lk, junction_index=-1) if lk is link else lk for lk in grid.links
    )
    broken = dataclasses.replace(grid, links=links)
    (problem,) = network_problems(broken)
    assert link.from_lane in problem and "right-of-way matrix" in problem


# -- bad input -------------------------------------------------------------------------------
def test_missing_file(tmp_path: Path):
    with pytest.raises(NetworkError, match="network file not found: .*nowhere.net.xml"):
        load_network(tmp_path / "nowhere.net.xml")


def test_directory(tmp_path: Path, grid_path: Path):
    shutil.copy(grid_path, tmp_path / "city.net.xml")
    with pytest.raises(NetworkError, match=r"is a directory.*city\.net\.xml"):
        load_network(tmp_path)


def test_not_xml(tmp_path: Path):
    path = tmp_path / "notes.net.xml"
    path.write_text("this is not a network\n")
    with pytest.raises(NetworkError, match=r"notes\.net\.xml is not XML \(line 1: "):
        load_network(path)


def test_routes_file_is_not_a_network(tmp_path: Path):
    path = tmp_path / "demand.rou.xml"
    path.write_text('<routes>\n  <vehicle id="v" depart="0"/>\n</routes>\n')
    with pytest.raises(
        NetworkError, match=r"is XML but not a SUMO network: root element <routes>, expected <net>"
    ):
        load_network(path)


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.net.xml"
    path.touch()
    with pytest.raises(NetworkError, match=r"empty\.net\.xml is empty"):
        load_network(path)


def test_truncated_gzip(tmp_path: Path):
    path = tmp_path / "cut.net.xml.gz"
    path.write_bytes(FOKR.read_bytes()[:5000])
    with pytest.raises(NetworkError, match=r"cut\.net\.xml\.gz is a truncated or damaged gzip"):
        load_network(path)


def test_truncated_plain_xml(tmp_path: Path, grid_path: Path):
    path = tmp_path / "cut.net.xml"
    path.write_bytes(grid_path.read_bytes()[:20000])
    with pytest.raises(
        NetworkError, match=r"cut\.net\.xml is truncated or malformed XML \(line \d+"
    ):
        load_network(path)


def test_phases_match_the_file(berlin: Network):
    for logic in ElementTree.parse(BERLIN).iter("tlLogic"):
        program = berlin.traffic_light(logic.get("id")).programs[logic.get("programID")]
        assert program.type == logic.get("type")
        assert program.offset_s == float(logic.get("offset"))
        phases = logic.findall("phase")
        assert len(program.phases) == len(phases)
        for phase, element in zip(program.phases, phases, strict=True):
            assert phase.state == element.get("state")
            assert phase.duration_s == float(element.get("duration"))
            for attr, value in (("minDur", phase.min_dur_s), ("maxDur", phase.max_dur_s)):
                assert value == (float(element.get(attr)) if element.get(attr) else None)
