"""Pedestrian calls never make adaptive control break a safety rule: on a grid with signalised
crossings, random people calling and random vehicles, every state max-pressure and actuated
make the junctions show passes the independent oracle (walks and pedestrian clearances
included), and the guard refuses nothing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearway.control.actuated import ActuatedController
from clearway.control.max_pressure import MaxPressureController
from clearway.control.runtime import ControlLoop
from clearway.network.walking import sidewalk_approaches
from clearway.state.traffic import TrafficState
from tests.fakes.junctions import FakeSignals
from tests.fakes.networks import netgenerate_grid

from .conftest import NetCase, load_case
from .oracle import replay

pytestmark = pytest.mark.sumo  # netgenerate makes the network

PED_OPTIONS = ("--sidewalks.guess", "true", "--crossings.guess", "true", "--walkingareas", "true")


@pytest.fixture(scope="module")
def ped_case(tmp_path_factory) -> NetCase:
    path = netgenerate_grid(tmp_path_factory.mktemp("ped_safety") / "g.net.xml", 3, *PED_OPTIONS)
    return load_case("ped-grid", str(path))


class _Street(FakeSignals):
    """FakeSignals whose detectors report scripted vehicles per lane and people per sidewalk
    stretch, tick by tick."""

    def __init__(self, states, lanes, counts, approaches, people):
        super().__init__(states)
        self.lanes, self.counts = lanes, counts
        self.approaches, self.people = approaches, people

    def read_traffic_state(self, fields=None) -> TrafficState:
        k = int(self.time_s)
        v = np.asarray(self.counts[k % len(self.counts)], dtype=float)
        z = np.zeros(len(self.lanes))
        p = np.asarray(self.people[k % len(self.people)], dtype=float)
        return TrafficState(self.time_s, self.lanes, v, v // 2, z, z, z, self.approaches, p)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_pedestrian_calls_keep_every_rule(ped_case, data):
    case = ped_case
    programs = {s: case.net.traffic_lights[s].default_program for s in case.models}
    lanes = tuple(sorted({lk.from_lane for s in case.models for lk in case.net.signal_links(s)
                          if lk.signal_index >= 0 and not lk.is_crossing}))  # fmt: skip
    approaches = tuple(a.approach_id for a in sidewalk_approaches(case.net))
    assert any(case.models[s].is_crossing[i] for s in case.models
               for i in range(case.models[s].link_count))  # fmt: skip
    counts = data.draw(st.lists(st.lists(st.integers(0, 15), min_size=len(lanes),
                                         max_size=len(lanes)), min_size=1, max_size=4))  # fmt: skip
    people = data.draw(st.lists(st.lists(st.integers(0, 6), min_size=len(approaches),
                                         max_size=len(approaches)), min_size=1, max_size=8))  # fmt: skip
    kind = data.draw(st.sampled_from([MaxPressureController, ActuatedController]))
    decision = data.draw(st.sampled_from([1.0, 3.0, 5.0]))
    ctrl = kind(case.net, case.models, programs, decision_s=decision, max_green_s=30.0)
    start = {s: programs[s].phases[0].state for s in case.models}
    fake = _Street(start, lanes, counts, approaches, people)
    loop = ControlLoop(fake, fake, fake, case.guard, ctrl)
    loop.run(120.0)
    assert loop.stats.rejected == 0, loop.stats.rejections[:2]
    assert loop.controlled, "the loop took over no signal"
    walks_ended = 0
    for sid in loop.controlled:
        bad = replay(case.oracles[sid], fake.shown[sid])
        assert not bad, (sid, bad[:3])
        crossing = case.models[sid].is_crossing
        states = [st for _, st in fake.shown[sid]]
        walks_ended += sum(1 for a, b in zip(states, states[1:], strict=False)
                           for i, c in enumerate(a) if crossing[i] and c == "G" and b[i] != "G")
    assert walks_ended > 0, "no walk was ever ended: the walk and clearance rules went unused"
