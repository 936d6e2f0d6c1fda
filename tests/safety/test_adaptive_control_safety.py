"""Adaptive control (max-pressure, actuated) under random detector data never breaks a safety
rule: every state it makes a real junction show passes the independent oracle (min green,
yellow, clearance, conflicts)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearway.control.actuated import ActuatedController
from clearway.control.max_pressure import MaxPressureController
from clearway.control.runtime import ControlLoop
from clearway.state.traffic import TrafficState
from tests.fakes.junctions import FakeSignals

from .oracle import replay


class _Detectors(FakeSignals):
    """FakeSignals whose detectors report a scripted count per lane and tick."""

    def __init__(self, states, lanes, counts):
        super().__init__(states)
        self.lanes, self.counts = lanes, counts

    def read_traffic_state(self, fields=None) -> TrafficState:
        k = int(self.time_s) % len(self.counts)
        v = np.asarray(self.counts[k], dtype=float)
        z = np.zeros(len(self.lanes))
        return TrafficState(self.time_s, self.lanes, v, v // 2, z, z, z)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_adaptive_control_states_pass_the_oracle(net_case, data):
    case = net_case
    programs = {s: case.net.traffic_lights[s].default_program for s in case.models}
    lanes = tuple(sorted({lk.from_lane for s in case.models for lk in case.net.signal_links(s)
                          if lk.signal_index >= 0 and not lk.is_crossing}))  # fmt: skip
    counts = data.draw(
        st.lists(st.lists(st.integers(0, 15), min_size=len(lanes), max_size=len(lanes)),
                 min_size=1, max_size=6)  # fmt: skip
    )
    decision = data.draw(st.sampled_from([1.0, 3.0, 5.0]))
    max_green = data.draw(st.sampled_from([10.0, 30.0, 60.0]))
    kind = data.draw(st.sampled_from([MaxPressureController, ActuatedController]))
    ctrl = kind(case.net, case.models, programs, decision_s=decision, max_green_s=max_green)
    start = {s: programs[s].phases[0].state for s in case.models}
    fake = _Detectors(start, lanes, counts)
    loop = ControlLoop(fake, fake, fake, case.guard, ctrl)
    loop.run(90.0)
    assert loop.stats.rejected == 0, loop.stats.rejections[:2]
    taken = loop.controlled
    for sid in taken:
        bad = replay(case.oracles[sid], fake.shown[sid])
        assert not bad, (case.name, sid, bad[:3])
    assert taken, "the loop took over no signal"
