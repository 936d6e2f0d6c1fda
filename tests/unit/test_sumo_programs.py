"""SUMO baseline programs keep clearway's safety timings (yellow, all-red, min green)."""

from __future__ import annotations

import math
from xml.etree import ElementTree

import pytest

from clearway.errors import ConfigError
from clearway.network.loader import load_network
from clearway.signals.build import build_intersections
from clearway.sim.sumo_programs import write_sumo_programs
from tests.fakes.networks import netgenerate_grid

pytestmark = pytest.mark.sumo


def test_baseline_programs_get_our_yellows_all_reds_and_min_greens(tmp_path):
    net = load_network(netgenerate_grid(tmp_path / "g.net.xml", 3))
    models = build_intersections(net)
    out = write_sumo_programs(net, "sumo-actuated", tmp_path / "b.add.xml", models)
    logics = ElementTree.parse(out).getroot().findall("tlLogic")
    assert {tl.get("id") for tl in logics} == set(net.traffic_lights)
    for tl in logics:
        assert tl.get("type") == "actuated"
        model = models[tl.get("id")]
        phases = tl.findall("phase")
        for k, ph in enumerate(phases):
            state, lo = ph.get("state"), float(ph.get("minDur"))
            yellow = [i for i, c in enumerate(state) if c in "yY"]
            green = [i for i, c in enumerate(state) if c in "Gg"]
            if yellow:
                assert lo >= max(model.timings[i].yellow_s for i in yellow) - 1e-9
                nxt = phases[(k + 1) % len(phases)].get("state")
                # all-red follows: the links that were yellow are red, nothing new is green
                assert all(nxt[i] == "r" for i in yellow)
                clear = float(phases[(k + 1) % len(phases)].get("minDur"))
                assert clear >= math.ceil(max(model.timings[i].clearance_s for i in yellow) - 1e-9)
            else:
                # a green that starts here runs at least its links' minimum green
                prev = phases[k - 1].get("state")
                starting = [i for i in green if prev[i] not in "Gg"]
                if starting:
                    assert lo >= max(model.timings[i].min_green_s for i in starting) - 1e-9


def test_unknown_baseline_is_refused(tmp_path):
    net = load_network(netgenerate_grid(tmp_path / "g.net.xml", 3))
    with pytest.raises(ConfigError, match="sumo-actuated"):
        write_sumo_programs(net, "sumo-magic", tmp_path / "x.xml")
