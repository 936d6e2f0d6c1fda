"""Pedestrian calls in actuated and max-pressure control: people counted on the sidewalks
leading to a crossing (a count per stretch, :mod:`clearway.control.ped_calls`) call its walk,
the call is kept until the walk is shown, and it is demand / pressure for the phases showing it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from clearway.control.actuated import ActuatedController
from clearway.control.max_pressure import MaxPressureController
from clearway.network.loader import load_network
from clearway.network.walking import crossing_areas, sidewalk_approaches
from clearway.signals.build import build_intersections
from clearway.signals.timers import SignalTimers
from clearway.state.traffic import PERSON_FIELD, TrafficState
from tests.fakes.networks import netgenerate_grid

pytestmark = pytest.mark.sumo  # netgenerate makes the network; no simulation runs

PED_OPTIONS = ("--sidewalks.guess", "true", "--crossings.guess", "true", "--walkingareas", "true")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    path = netgenerate_grid(tmp_path_factory.mktemp("peds") / "g.net.xml", 3, *PED_OPTIONS)
    net = load_network(path)
    return path, net, build_intersections(net)


def _programs(net, models):
    return {sid: net.traffic_lights[sid].default_program for sid in models}


def _state(people: dict[str, float] | None = None, lanes: dict[str, float] | None = None):
    lanes = lanes or {}
    ids = tuple(sorted(lanes))
    v = np.array([lanes[x] for x in ids], dtype=float)
    z = np.zeros(len(ids))
    people = people or {}
    at = tuple(sorted(people))
    return TrafficState(0.0, ids, v, v, z, z, z, at, np.array([people[a] for a in at]))


def test_crossings_their_walking_areas_and_the_sidewalks_leading_there(grid):
    path, net, _ = grid
    text = path.read_text()
    # Oracles: SUMO's own connections -- a crossing's exit onto its far walking area, and the
    # sidewalks entering and leaving each walking area.
    exits = dict(re.findall(r'<connection from="(:[^"]+_c\d+)" to="(:[^"]+_w\d+)"', text))
    into = set(re.findall(r'<connection from="([^:"][^"]*)" to="(:[^"]+_w\d+)"', text))
    out_of = set(re.findall(r'<connection from="(:[^"]+_w\d+)" to="([^:"][^"]*)"', text))
    ends = crossing_areas(net)
    crossings = [lk for lk in net.links if lk.is_crossing and lk.signal_id is not None]
    assert len(crossings) >= 4 and {lk.to_edge for lk in crossings} <= set(exits)
    for lk in crossings:
        near, far = ends[lk.signal_id][lk.signal_index]
        assert near == lk.from_edge and far == exits[lk.to_edge] and near != far
    areas = {a for lk in crossings for a in ends[lk.signal_id][lk.signal_index]}
    got = {(a.lane_id.rsplit("_", 1)[0], a.area_id, a.approach_id.endswith("@end"))
           for a in sidewalk_approaches(net)}  # fmt: skip
    want = {(e, w, True) for e, w in into if w in areas} | {
        (e, w, False) for w, e in out_of if w in areas
    }
    assert got == want
    for a in sidewalk_approaches(net):
        assert net.lane(a.lane_id).allowed == {"pedestrian"}
        assert a.end_m - a.begin_m == pytest.approx(min(20.0, net.lane(a.lane_id).length_m))


def _walk_phases(ctrl, sid):
    """Per phase of ``sid`` (controller order): the crossing link indices it shows green."""
    j = ctrl._signals.index(sid)
    crossing = ctrl._models[sid].is_crossing
    block = range(ctrl._first[j], ctrl._first[j] + ctrl._count[j])
    return {p: {i for i, c in enumerate(ctrl._states[p]) if c in "Ggs" and crossing[i]}
            for p in block}  # fmt: skip


def _drive(ctrl, traffic_at, until_s, sid="B1"):
    """Run ``ctrl`` on ``sid`` alone, states applied as proposed; every state it showed."""
    start = ctrl._states[ctrl._current[ctrl._signals.index(sid)]]
    t = SignalTimers.start(sid, start, 0.0)
    shown = [start]
    for now in np.arange(0.0, until_s, 1.0):
        for c in ctrl.propose(float(now), {sid: t}, traffic_at(float(now))):
            if c.signal_id == sid:
                t = t.observe(c.state, float(now))
                shown.append(c.state)
        t = t.observe(t.state, float(now))
    return shown


def _other_walk(ctrl, net):
    """A crossing the start phase does not show, a sidewalk stretch leading to its near end,
    and the start phase's vehicle lanes."""
    j = ctrl._signals.index("B1")
    walks = _walk_phases(ctrl, "B1")
    start = int(ctrl._current[j])
    link = next(i for p, w in walks.items() if p != start for i in w if i not in walks[start])
    near, _ = crossing_areas(net)["B1"][link]
    approach = next(a.approach_id for a in sidewalk_approaches(net) if a.area_id == near)
    state = ctrl._states[start]
    lanes = {lk.from_lane for lk in net.signal_links("B1")
             if not lk.is_crossing and lk.signal_index >= 0 and state[lk.signal_index] in "Gg"}
    return link, approach, lanes


def _passing(approach, n=2.0, until_s=5.0, lanes=None):
    """People on ``approach`` for the first ``until_s`` s only (then they stand waiting on the
    walking area, which no detector sees)."""
    return lambda now: _state({approach: n} if now < until_s else {approach: 0.0}, lanes)


def test_actuated_does_not_skip_a_walk_that_has_a_call(grid):
    _, net, models = grid
    ctrl = ActuatedController(net, models, _programs(net, models))
    assert PERSON_FIELD in ctrl.traffic_fields
    link, approach, lanes = _other_walk(ctrl, net)
    # Vehicles wait on the start phase's lanes only: without a call the signal goes back and
    # forth between the two phases serving them (with and without their walk), and the
    # crossing the other way never gets its walk -- the walker would be starved.
    cars = dict.fromkeys(lanes, 4.0)
    deaf = _drive(ActuatedController(net, models, _programs(net, models)),
                  lambda now: _state(lanes=cars), 120.0)  # fmt: skip
    assert len(set(deaf)) > 1 and not any(s[link] == "G" for s in deaf)
    # Walkers seen in the first 5 s only: the call is kept until their walk comes.
    served = _drive(ctrl, _passing(approach, lanes=cars), 120.0)
    assert any(s[link] == "G" for s in served)


def test_actuated_rests_without_calls_and_a_shown_walk_answers_the_call(grid):
    _, net, models = grid
    link, approach, _ = _other_walk(ActuatedController(net, models, _programs(net, models)), net)
    idle = _drive(ActuatedController(net, models, _programs(net, models)),
                  lambda now: _state(), 60.0)  # fmt: skip
    assert len(idle) == 1
    ctrl = ActuatedController(net, models, _programs(net, models))
    shown = _drive(ctrl, _passing(approach), 120.0)
    assert any(s[link] == "G" for s in shown)
    # Phases with the same vehicle greens but every crossing red have no call: never targets.
    walks = _walk_phases(ctrl, "B1")
    no_walk = {ctrl._states[p] for p, w in walks.items() if not w}
    assert no_walk and not no_walk & set(shown)
    # Both walks of the corner were shown, so nothing is called any more: the signal rests.
    assert not ctrl._peds.per_phase().any()
    assert len(_drive(ctrl, lambda now: _state({approach: 0.0}), 60.0)) == 1


def test_max_pressure_weighs_each_person_calling(grid):
    _, net, models = grid
    ctrl = MaxPressureController(net, models, _programs(net, models), ped_weight_veh=2.0)
    assert PERSON_FIELD in ctrl.traffic_fields
    walks = _walk_phases(ctrl, "B1")
    ends = crossing_areas(net)["B1"]
    feeding = {}
    for a in sidewalk_approaches(net):
        feeding.setdefault(a.area_id, set()).add(a.approach_id)
    some = sorted(feeding[ends[next(iter(walks[max(walks, key=lambda p: len(walks[p]))]))][0]])
    people = {some[0]: 3.0, some[1]: 1.0}
    lane = next(lk.from_lane for lk in net.signal_links("B1") if not lk.is_crossing)
    base = MaxPressureController(net, models, _programs(net, models)).pressures(
        _state(lanes={lane: 4.0})
    )
    with_people = ctrl.pressures(_state(people, {lane: 4.0}))
    for p, w in walks.items():
        # Per crossing: everyone at once on the stretches leading to either of its ends.
        want = sum(sum(people.get(a, 0.0) for a in feeding[ends[i][0]] | feeding[ends[i][1]])
                   for i in w)  # fmt: skip
        assert with_people[p] - base[p] == pytest.approx(2.0 * want)
    assert any(with_people[p] > base[p] for p in walks)


def test_max_pressure_leaves_a_phase_without_walk_for_callers_unless_told_not_to(grid):
    _, net, models = grid

    def from_phase_without_walk(**kw):
        ctrl = MaxPressureController(net, models, _programs(net, models), decision_s=1.0, **kw)
        walks = _walk_phases(ctrl, "B1")
        k = next(ctrl._program_k[p] for p, w in walks.items() if not w)
        ctrl.resume("B1", 0.0, k)
        return ctrl

    ctrl = from_phase_without_walk()
    link, approach, _ = _other_walk(ctrl, net)
    shown = _drive(ctrl, _passing(approach, n=3.0), 60.0)
    assert any(s[link] == "G" for s in shown)
    deaf = from_phase_without_walk(ped_weight_veh=0.0)
    assert len(_drive(deaf, _passing(approach, 3.0), 60.0)) == 1
    with pytest.raises(ValueError, match="ped_weight_veh"):
        MaxPressureController(net, models, _programs(net, models), ped_weight_veh=-1.0)


def test_states_without_pedestrian_data_give_no_calls(grid):
    _, net, models = grid
    ctrl = ActuatedController(net, models, _programs(net, models))
    assert not ctrl._ped_calls(_state()).any()
    # An unknown stretch (another network's) is ignored, not an error.
    assert not ctrl._ped_calls(_state({"Z9Z8_0@end": 5.0})).any()
    with pytest.raises(ValueError, match="person_count"):
        TrafficState(0.0, (), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0),
                     ("A1B1_0@end",), np.zeros(2))  # fmt: skip
