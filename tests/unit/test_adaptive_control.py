"""Adaptive control (max-pressure, actuated): hand-computed pressures, phase choice, gaps."""

from __future__ import annotations

import numpy as np
import pytest

from clearway.control.max_pressure import MaxPressureController
from clearway.network.loader import load_network
from clearway.signals.build import build_intersections
from clearway.signals.programs import safe_phase_states
from clearway.signals.timers import SignalTimers
from clearway.state.traffic import TrafficState
from tests.fakes.networks import netgenerate_grid

pytestmark = pytest.mark.sumo


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    path = netgenerate_grid(tmp_path_factory.mktemp("mp") / "g.net.xml", 3)
    net = load_network(path)
    return net, build_intersections(net)


def controller(grid, **kw):
    net, models = grid
    programs = {sid: net.traffic_lights[sid].default_program for sid in models}
    return MaxPressureController(net, models, programs, **kw)


def state_with(counts: dict[str, float], t: float = 0.0) -> TrafficState:
    lanes = tuple(sorted(counts))
    v = np.array([counts[x] for x in lanes], dtype=float)
    z = np.zeros(len(lanes))
    return TrafficState(t, lanes, v, z, z, z, z)


def green_phases(grid, sid):
    net, models = grid
    states = safe_phase_states(models[sid], net.traffic_lights[sid].default_program)
    return [s for s in states if any(c in "Ggs" for c in s)]


def test_pressure_is_vehicles_in_minus_vehicles_out_summed_over_green_links(grid):
    net, _ = grid
    ctrl = controller(grid)
    links = [lk for lk in net.signal_links("B1") if lk.signal_index >= 0]
    east = {lk.from_lane for lk in links if lk.from_edge == "A1B1"}
    north = {lk.from_lane for lk in links if lk.from_edge == "B0B1"}
    out_lane = next(lk.to_lane for lk in links if lk.from_edge == "A1B1" and lk.direction == "s")
    counts = {**dict.fromkeys(east, 6.0), **dict.fromkeys(north, 2.0), out_lane: 3.0}
    p = ctrl.pressures(state_with(counts))
    # By hand: every green link adds (vehicles on its incoming lane - on its outgoing lane).
    j = ctrl._signals.index("B1")
    first, n = ctrl._first[j], ctrl._count[j]
    for phase, got in zip(green_phases(grid, "B1"), p[first : first + n], strict=True):
        want = 0.0
        for lk in links:
            if phase[lk.signal_index] in "Ggs":
                want += counts.get(lk.from_lane, 0.0) - counts.get(lk.to_lane, 0.0)
        assert got == pytest.approx(want)
    assert max(p[first : first + n]) > 0


def test_the_highest_pressure_phase_is_chosen_once_min_green_is_served(grid):
    net, models = grid
    ctrl = controller(grid, decision_s=1.0)
    links = [lk for lk in net.signal_links("B1") if lk.signal_index >= 0]
    # Only the approach from the west (A1B1) has vehicles.
    counts = {lk.from_lane: 10.0 for lk in links if lk.from_edge == "A1B1"}
    traffic = state_with(counts)
    phases = green_phases(grid, "B1")
    pressure = {s: sum(10.0 for lk in links if lk.from_edge == "A1B1" and s[lk.signal_index] in "Ggs")
                for s in phases}  # fmt: skip
    best = max(phases, key=lambda s: pressure[s])
    start = ctrl._states[ctrl._current[ctrl._signals.index("B1")]]
    assert pressure[best] > pressure[start], "pick a case where the current phase is not best"
    t = SignalTimers.start("B1", start, 0.0)
    timers = {"B1": t}
    shown = start
    min_green = models["B1"].timings[0].min_green_s
    for now in np.arange(0.0, 60.0, 1.0):
        cmds = ctrl.propose(float(now), timers, traffic)
        for c in cmds:
            if c.signal_id == "B1":
                shown = c.state
                if now < min_green:
                    # The current phase keeps its green until its minimum green is served.
                    assert all(shown[i] in "Ggs" for i, ch in enumerate(start) if ch in "Ggs")
        t = t.observe(shown, float(now))
        timers = {"B1": t}
    assert shown == best


def test_max_green_gives_way_to_another_phase_even_without_demand_elsewhere(grid):
    ctrl = controller(grid, decision_s=1.0, max_green_s=20.0)
    start = ctrl._states[ctrl._current[ctrl._signals.index("B1")]]
    traffic = state_with({})
    t = SignalTimers.start("B1", start, 0.0)
    seen = {start}
    for now in range(0, 80):
        for c in ctrl.propose(float(now), {"B1": t}, traffic):
            if c.signal_id == "B1":
                t = t.observe(c.state, float(now))
        t = t.observe(t.state, float(now))
        seen.add(t.state)
    assert len({s for s in seen if s in green_phases(grid, "B1")}) >= 2


def test_resume_serves_the_next_green_phase_of_the_program(grid):
    net, models = grid
    ctrl = controller(grid)
    program = net.traffic_lights["B1"].default_program
    states = safe_phase_states(models["B1"], program)
    for k in range(len(states)):
        ctrl.resume("B1", 10.0, k)
        got = ctrl.phase_in_service("B1")
        assert got >= k or all(not any(c in "Ggs" for c in x) for x in states[k:])
        assert any(c in "Ggs" for c in states[got])


# -- actuated (same phase table) -------------------------------------------------------------
def actuated(grid, **kw):
    from clearway.control.actuated import ActuatedController

    net, models = grid
    programs = {sid: net.traffic_lights[sid].default_program for sid in models}
    return ActuatedController(net, models, programs, **kw)


def drive(ctrl, traffic_at, until_s, start_state=None):
    """Run ``ctrl`` on B1 alone (states applied as proposed); returns (time, state) changes."""
    start = start_state or ctrl._states[ctrl._current[ctrl._signals.index("B1")]]
    t = SignalTimers.start("B1", start, 0.0)
    changes = [(0.0, start)]
    for now in np.arange(0.0, until_s, 1.0):
        for c in ctrl.propose(float(now), {"B1": t}, traffic_at(float(now))):
            if c.signal_id == "B1":
                t = t.observe(c.state, float(now))
                changes.append((float(now), c.state))
        t = t.observe(t.state, float(now))
    return changes


def lanes_of(grid, edge):
    net, _ = grid
    return {lk.from_lane for lk in net.signal_links("B1") if lk.from_edge == edge}


def moving(lanes, n=3.0, halting=0.0):
    lanes = tuple(sorted(lanes))
    v = np.full(len(lanes), n)
    z = np.zeros(len(lanes))
    return TrafficState(0.0, lanes, v, np.full(len(lanes), halting), z, z, z)


def test_actuated_extends_while_vehicles_arrive_up_to_max_green(grid):
    ctrl = actuated(grid, max_green_s=25.0)
    start = ctrl._states[ctrl._current[ctrl._signals.index("B1")]]
    served = [e for e in ("A1B1", "B0B1", "B2B1", "C1B1")
              if any(start[lk.signal_index] in "Ggs" for lk in grid[0].signal_links("B1")
                     if lk.from_edge == e)]  # fmt: skip
    everyone = set().union(*(lanes_of(grid, e) for e in ("A1B1", "B0B1", "B2B1", "C1B1")))
    traffic = moving(everyone)  # arrivals everywhere: only max green ends the phase
    changes = drive(ctrl, lambda now: traffic, 40.0)
    first_change = changes[1][0]
    assert served and 25.0 <= first_change <= 27.0, changes[:3]


def test_actuated_gaps_out_to_the_next_phase_with_demand_and_rests_without(grid):
    ctrl = actuated(grid)
    start = ctrl._states[ctrl._current[ctrl._signals.index("B1")]]
    # Vehicles wait (halting) only on the west approach; nothing arrives on the current phase.
    west = lanes_of(grid, "A1B1")
    waiting = moving(west, n=4.0, halting=4.0)
    changes = drive(ctrl, lambda now: waiting, 40.0)
    final = changes[-1][1]
    net, _ = grid
    west_links = [lk.signal_index for lk in net.signal_links("B1") if lk.from_edge == "A1B1"]
    assert final != start and any(final[i] in "Ggs" for i in west_links)
    # It left the start phase as soon as its minimum green was served (the gap), not later.
    min_green = max(grid[1]["B1"].timings[i].min_green_s for i, c in enumerate(start) if c in "Ggs")
    assert changes[1][0] <= min_green + 1.0
    # With no vehicle anywhere it rests in the phase it has.
    rest = drive(actuated(grid), lambda now: moving(set()), 60.0)
    assert len(rest) == 1


def test_change_intervals_are_not_service_phases():
    from clearway.control.phase_control import service_phases

    # OSM imports often keep a continuing movement green through the yellow of the others
    # ("yyGrr"); chosen as a target it could never be reached from red.
    states = ("GGGrr", "yyGrr", "rrrGG", "rrryy", "rrrrr")
    assert service_phases(states) == [(0, "GGGrr"), (2, "rrrGG")]
    # a program made only of such phases is served with its yellows shown red
    assert service_phases(("yGr", "Gyr")) == [(0, "rGr"), (1, "Grr")]


def test_max_pressure_asks_for_detectors_only_when_a_signal_decides(grid):
    ctrl = controller(grid, decision_s=5.0)
    timers = {sid: SignalTimers.start(sid, ctrl._states[ctrl._current[j]], 0.0)
              for j, sid in enumerate(ctrl._signals)}  # fmt: skip
    due = []
    for now in range(0, 12):
        due.append(ctrl.traffic_due(float(now)))
        ctrl.propose(float(now), timers, state_with({}, float(now)))
    assert due == [True, False, False, False, False, True, False, False, False, False, True, False]
