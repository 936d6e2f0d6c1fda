"""The hold shaped after the program phase that serves the vehicle (:func:`phase_hold_state`),
on a netgenerate junction: the opposite through traffic keeps its green."""

from __future__ import annotations

import pytest

from clearway.control.priority.arbitration import claim_links, priority_state
from clearway.control.priority.hold_state import fill_compatible, phase_hold_state
from clearway.network import load_network
from clearway.signals.build import build_intersections
from clearway.signals.programs import safe_phase_states
from tests.fakes.networks import netgenerate_grid

GREEN = "Gg"


@pytest.fixture(scope="module")
def junction(tmp_path_factory):
    out = netgenerate_grid(tmp_path_factory.mktemp("shape") / "grid.net.xml", 3)
    net = load_network(out)
    models = build_intersections(net)
    program = net.traffic_lights["B1"].default_program
    return net, models["B1"], safe_phase_states(models["B1"], program)


def _indices(net, approach, to=None):
    return {
        lk.signal_index: lk for lk in net.signal_links("B1")
        if lk.from_edge == approach and (to is None or lk.to_edge == to)
    }  # fmt: skip


def test_a_queued_lane_s_left_turn_stays_permissive_and_the_opposite_through_keeps_green(junction):
    net, model, phases = junction
    core, links = claim_links(net, "B1", "A1B1", "B1C1")  # eastbound through B1
    assert links - core, "the through lanes carry other movements"
    opposite_through = set(_indices(net, "C1B1", "B1A1"))
    opposite_turns = set(_indices(net, "C1B1")) - opposite_through
    own_other = links - core
    shaped = phase_hold_state(model, phases, core, links)
    assert shaped is not None
    assert not model.conflicting_greens(shaped)
    assert all(shaped[i] == "G" for i in core)
    assert all(shaped[i] in GREEN for i in opposite_through), shaped
    assert all(shaped[i] in GREEN for i in own_other), shaped  # the lane can still clear
    # Every foe of the vehicle's movement is red, permissive ones included.
    for i, c in enumerate(shaped):
        if any(model.conflicts(i, j) or model.conflicts(j, i) for j in core):
            assert c not in GREEN, (i, shaped)
    # The opposite left turn crosses the vehicle's path: red.
    assert any(shaped[i] not in GREEN for i in opposite_turns)
    # The bare claim protects the lane's left turn instead, and stops the opposite through.
    bare = priority_state(model, links, phases[0], core=core)
    assert all(bare[i] not in GREEN for i in opposite_through), bare


def test_the_shaped_hold_is_the_phase_itself_less_the_vehicle_s_foes(junction):
    net, model, phases = junction
    core, links = claim_links(net, "B1", "A1B1", "B1C1")
    shaped = phase_hold_state(model, phases, core, links)
    (phase,) = [p for p in phases if all(p[i] in GREEN for i in core)]
    for i, (was, now) in enumerate(zip(phase, shaped, strict=True)):
        if now != was:
            assert i in core and now == "G" or now == "r", (i, was, now)
    # Filling adds nothing a foe of the vehicle: it stays safe.
    filled = fill_compatible(model, shaped, phases)
    assert not model.conflicting_greens(filled)


def test_a_claim_that_no_phase_serves_gets_no_shaped_hold(junction):
    net, model, phases = junction
    core, links = claim_links(net, "B1", "A1B1", "B1C1")
    cross = frozenset(_indices(net, "B0B1"))  # northbound: never green with eastbound
    assert phase_hold_state(model, phases, core | cross, links | cross) is None
    assert phase_hold_state(model, (), core, links) is None
