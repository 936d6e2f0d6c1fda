"""Detectors on a short approach lane reach back over the lane leading into it (issue 19)."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import pytest

from clearway.network import load_network
from clearway.sim.detectors import (
    DETECTOR_LENGTH_M,
    DETECTOR_PREFIX,
    covered_lengths_m,
    upstream_lanes,
    write_lane_detectors,
)
from clearway.sim.sumo_env import sumo_binary

pytestmark = pytest.mark.sumo

NODES = """<nodes>
  <node id="A" x="-300" y="0" type="priority"/>
  <node id="B" x="-12" y="0" type="priority"/>
  <node id="C" x="0" y="0" type="traffic_light"/>
  <node id="D" x="200" y="0" type="priority"/>
  <node id="N" x="0" y="200" type="priority"/>
  <node id="S" x="0" y="-200" type="priority"/>
</nodes>"""
# A one-lane road widens to two lanes a few metres before the signal at C (B: the split node,
# unsignalised): the two lanes at the stop line are under a metre long.
EDGES = """<edges>
  <edge id="AB" from="A" to="B" numLanes="1" speed="13.89"/>
  <edge id="BC" from="B" to="C" numLanes="2" speed="13.89"/>
  <edge id="CD" from="C" to="D" numLanes="1" speed="13.89"/>
  <edge id="NC" from="N" to="C" numLanes="1" speed="13.89"/>
  <edge id="CS" from="C" to="S" numLanes="1" speed="13.89"/>
</edges>"""


@pytest.fixture(scope="module")
def split_net(tmp_path_factory):
    d = tmp_path_factory.mktemp("split")
    (d / "n.nod.xml").write_text(NODES)
    (d / "n.edg.xml").write_text(EDGES)
    out = d / "n.net.xml"
    subprocess.run([str(sumo_binary("netconvert")), "-n", str(d / "n.nod.xml"), "-e",
                    str(d / "n.edg.xml"), "-o", str(out)], check=True, capture_output=True)  # fmt: skip
    return out


def test_a_short_approach_lane_reaches_back_through_the_unsignalised_split(split_net):
    net = load_network(split_net)
    assert net.lane("BC_0").length_m < 5.0
    assert upstream_lanes(net, "BC_0", DETECTOR_LENGTH_M) == ["AB_0", "BC_0"]
    assert upstream_lanes(net, "BC_1", DETECTOR_LENGTH_M) == ["AB_0", "BC_1"]
    # A long lane, and a lane whose feeder is a dead end, keep a detector of their own.
    assert upstream_lanes(net, "NC_0", DETECTOR_LENGTH_M) == ["NC_0"]
    assert upstream_lanes(net, "AB_0", DETECTOR_LENGTH_M) == ["AB_0"]
    assert covered_lengths_m(net) == {
        "BC_0": pytest.approx(DETECTOR_LENGTH_M),
        "BC_1": pytest.approx(DETECTOR_LENGTH_M),
        "NC_0": pytest.approx(DETECTOR_LENGTH_M),
    }


def test_sumo_runs_the_reaching_detector_and_names_the_stop_line_lane(split_net, tmp_path):
    import libsumo

    net = load_network(split_net)
    det = write_lane_detectors(net, tmp_path / "d.xml")
    by_id = {d.get("id"): d for d in ET.parse(det).getroot().findall("laneAreaDetector")}
    assert by_id[DETECTOR_PREFIX + "BC_0"].get("lanes") == "AB_0 BC_0"
    assert by_id[DETECTOR_PREFIX + "NC_0"].get("lane") == "NC_0"
    libsumo.start([str(sumo_binary("sumo")), "-n", str(split_net), "-a", str(det),
                   "--no-step-log", "--end", "5"])  # fmt: skip
    try:
        libsumo.simulationStep()
        # The twin maps detectors to lanes by getLaneID: the lane at the stop line.
        assert libsumo.lanearea.getLaneID(DETECTOR_PREFIX + "BC_0") == "BC_0"
        # SUMO counts the junction's internal lane in; the road covered is the 80 m asked.
        assert libsumo.lanearea.getLength(DETECTOR_PREFIX + "BC_0") >= DETECTOR_LENGTH_M
    finally:
        libsumo.close()
