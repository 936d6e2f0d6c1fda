"""Holds limited to a signal's NEMA phase states (``--normal nema-phases``): on a signal with
a phase map every hold target is one of the states its phase combinations show, and serves the
vehicle's movement; a signal without one gets the unlimited target."""

from __future__ import annotations

import pytest

from clearway.bootstrap import normal_controller
from clearway.control.priority.field_preemption import PhaseLimitedPreemption, phase_combos
from clearway.control.priority.policies import CorridorPreemption
from clearway.control.priority.preemption import PreemptionController
from clearway.field.virtual.twin_cabinets import derivable_phase_maps
from clearway.network import load_network
from clearway.signals.build import build_intersections
from clearway.signals.model import GREEN_CHARS
from clearway.signals.nema import state_of
from tests.fakes.networks import netgenerate_grid
from tests.fakes.priority import FakeFeed, movement_links, signal_of


class _Clock:
    def now_s(self) -> float:
        return 0.0


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    net = load_network(netgenerate_grid(tmp_path_factory.mktemp("plp") / "g.net.xml", 3))
    models = build_intersections(net)
    phase_maps, _ = derivable_phase_maps(net, models, sorted(models))
    return net, models, phase_maps


def _controllers(net, models, phase_maps, limited):
    programs = {sid: net.traffic_lights[sid].default_program for sid in models}
    args = (normal_controller("fixed-time", net, models), net, models, programs,
            FakeFeed(_Clock()), CorridorPreemption())  # fmt: skip
    return (
        PhaseLimitedPreemption(*args, phase_maps={s: phase_maps[s] for s in limited}),
        PreemptionController(*args),
    )


def test_hold_targets_are_phase_states_and_serve_the_movement(grid):
    net, models, phase_maps = grid
    sid = signal_of(net, "B1")
    assert sid in phase_maps
    limited, free = _controllers(net, models, phase_maps, [sid])
    pm = phase_maps[sid]
    shows = {state_of(pm, combo, (), (), ()) for combo in phase_combos(pm)}
    for approach, nxt in (("A1B1", "B1C1"), ("B0B1", "B1B2"), ("C1B1", "B1A1")):
        core = movement_links(net, sid, approach, nxt)
        for phase in net.traffic_lights[sid].default_program.phases:
            target = limited._target_state(sid, core, phase.state, core)
            assert target in shows, (approach, phase.state, target)
            assert all(target[i] in GREEN_CHARS for i in core), (approach, target)
    # The unlimited twin shows states of its own: the limit is not a no-op.
    unlimited = {
        free._target_state(sid, core, phase.state, core)
        for approach, nxt in (("A1B1", "B1C1"), ("B0B1", "B1B2"), ("C1B1", "B1A1"))
        for core in [movement_links(net, sid, approach, nxt)]
        for phase in net.traffic_lights[sid].default_program.phases
    }
    assert unlimited - shows


def test_a_signal_without_a_phase_map_gets_the_unlimited_target(grid):
    net, models, phase_maps = grid
    sid, other = signal_of(net, "B1"), signal_of(net, "A1")
    limited, free = _controllers(net, models, phase_maps, [sid])
    core = movement_links(net, other, "A0A1", "A1A2")
    for phase in net.traffic_lights[other].default_program.phases:
        assert limited._target_state(other, core, phase.state, core) == free._target_state(
            other, core, phase.state, core
        )
