"""NEMA phase maps: derived from real programs, and every kind of mismatch the checker names."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from clearway.network.model import Phase, SignalProgram
from clearway.signals.model import GREEN_CHARS, Intersection, LinkTimings
from clearway.signals.nema import (
    NemaError,
    NemaPhase,
    Overlap,
    PhaseMap,
    expressible,
    never_green_links,
    phases_of,
    service_states,
    state_of,
)
from clearway.signals.nema_check import check_phase_map
from clearway.signals.nema_derive import derive_phase_map, program_groups
from tests.fakes.junctions import four_leg


@cache
def real_nets() -> tuple:
    from clearway.network.loader import load_network
    from clearway.signals.build import build_intersections
    from clearway.sim.sumo_env import sumo_home
    from tests.fakes.networks import netgenerate_grid

    out = Path("/tmp") / f"clearway-nema-{id(real_nets)}"
    out.mkdir(exist_ok=True)
    nets = [load_network(netgenerate_grid(out / "grid.net.xml", 3)),
            load_network(sumo_home() / "tools/game/DRT/osm.net.xml")]  # fmt: skip
    return tuple((net, build_intersections(net)) for net in nets)


def _green(state: str) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(state) if c in GREEN_CHARS)


@pytest.mark.sumo
def test_derived_maps_pass_the_checker_and_show_each_program_phase():
    programs = 0
    for net, models in real_nets():
        for sid, model in models.items():
            links = net.signal_links(sid)
            for prog in net.traffic_lights[sid].programs.values():
                pm = derive_phase_map(model, prog, links)
                never = never_green_links(model, prog)
                assert check_phase_map(pm, model, links=links, never_green=never) == []
                states = service_states(model, prog)
                for group, members in zip(pm.barriers, program_groups(model, prog), strict=True):
                    for k in members:
                        want = states[k]
                        peds = {i for i in _green(want) if model.is_crossing[i]}
                        walks = group if peds else ()
                        shown = state_of(pm, group, walks=walks)
                        vehicle = [i for i in range(len(want)) if not model.is_crossing[i]]
                        assert {i for i in vehicle if shown[i] in "Gg"} == {
                            i for i in vehicle if want[i] in GREEN_CHARS
                        }, (sid, k)
                        # never more protected than the program: a 'G' where it shows 'g' could
                        # run over a foe it yields to
                        assert all(want[i] == "G" for i in vehicle if shown[i] == "G"), (sid, k)
                        shown_peds = {
                            i for i in range(len(want)) if model.is_crossing[i] and shown[i] == "G"
                        }
                        assert peds <= shown_peds, (sid, k)
                programs += 1
    assert programs >= 20


@pytest.mark.sumo
def test_opposite_approaches_get_two_rings_and_a_shared_right_turn_an_overlap():
    net, models = real_nets()[0]
    pm = derive_phase_map(models["A1"], net.traffic_lights["A1"].default_program,
                          net.signal_links("A1"))  # fmt: skip
    assert pm.rings == ((1, 2), (5, 6))
    assert pm.barriers == (frozenset({1, 5}), frozenset({2, 6}))
    # link 8 is green in both of A1's green phases: one overlap of the phases driving it there
    (ov,) = pm.overlaps
    assert ov.links == frozenset({8}) and ov.parents == frozenset({5, 6})
    assert all(8 not in p.links for p in pm.phases)
    # without the network links nothing tells the approaches apart: one ring
    single = derive_phase_map(models["A1"], net.traffic_lights["A1"].default_program)
    assert single.rings == ((1, 2),)


def test_more_than_sixteen_phases_is_an_error_naming_the_signal():
    n = 17
    t = LinkTimings(5.0, 3.0, 1.0)
    model = Intersection("big", ("big",), tuple((0,) * n for _ in range(n)), (t,) * n, (False,) * n)
    phases = tuple(Phase(10.0, "".join("G" if i == k else "r" for i in range(n))) for k in range(n))
    with pytest.raises(NemaError, match="'big' needs more than 16"):
        derive_phase_map(model, SignalProgram("0", "static", 0.0, phases))


# -- hand-made: four_leg (0 N-S through, 1 E-W through, 2 left yielding to 0, 3 free right) --


def good_map() -> PhaseMap:
    return PhaseMap(
        "J", 4,
        (NemaPhase(1, 1, frozenset({0, 2}), frozenset({2})), NemaPhase(2, 1, frozenset({1}))),
        (Overlap(1, frozenset({1, 2}), frozenset({3})),),
        ((1, 2),),
        (frozenset({1}), frozenset({2})),
    )  # fmt: skip


def test_the_hand_made_map_is_sound_and_shows_its_phases():
    pm, model = good_map(), four_leg()
    assert check_phase_map(pm, model) == []
    assert state_of(pm, {1}) == "GrgG"
    assert state_of(pm, {2}) == "rGrG"
    assert state_of(pm, (), {1}) == "yryy"
    # the overlap stays green through phase 1's change when phase 2 (a parent) is next
    assert state_of(pm, (), {1}, ons={1}, nexts={2}) == "yryG"
    assert phases_of(pm, "GrgG") == (frozenset({1}), frozenset())
    assert phases_of(pm, "rGrG") == (frozenset({2}), frozenset())
    assert not expressible(pm, "GGrG")  # no phase shows both throughs
    assert not expressible(pm, "GrGG")  # the left is permissive in phase 1


def _one(msgs: list[str], *needles: str) -> None:
    assert msgs, "the checker found nothing"
    assert any(all(n in m for n in needles) for m in msgs), msgs


@pytest.mark.parametrize(
    ("broken", "needles"),
    [
        (lambda pm: replace(pm, phases=(replace(pm.phases[0], links=frozenset({0, 2, 9})), pm.phases[1])),
         ("'J'", "phase 1", "link 9", "out of range")),
        (lambda pm: replace(pm, overlaps=()), ("link 3", "driven by no phase")),
        (lambda pm: replace(pm, phases=(pm.phases[0], replace(pm.phases[1], ring=2)),
                            rings=((1,), (2,)), barriers=(frozenset({1, 2}),)),
         ("phase 1 and phase 2", "link 0", "link 1", "conflict")),
        (lambda pm: replace(pm, phases=(replace(pm.phases[0], permissive=frozenset({0})), pm.phases[1])),
         ("phase 1", "link 0 (g)", "link 2 (G)", "conflict")),
        (lambda pm: replace(pm, barriers=(frozenset({1}),)), ("phase 2 is in no barrier group",)),
        (lambda pm: replace(pm, barriers=(frozenset({1, 2}), frozenset({2}))), ("phase 2 is in 2 barrier groups",)),
        (lambda pm: replace(pm, rings=((1, 2, 7),)), ("ring 1 sequence has unknown phase 7",)),
        (lambda pm: replace(pm, rings=((2, 1),)), ("does not follow the barrier order",)),
        (lambda pm: replace(pm, phases=(replace(pm.phases[0], ped_links=frozenset({1})), pm.phases[1])),
         ("phase 1", "link 1", "not a pedestrian crossing")),
        (lambda pm: replace(pm, phases=(replace(pm.phases[0], number=17), pm.phases[1]), rings=((17, 2),),
                            barriers=(frozenset({17}), frozenset({2}))),
         ("phase 17 is out of range",)),
        (lambda pm: replace(pm, phases=(pm.phases[0], replace(pm.phases[1], links=frozenset({1, 2})))),
         ("link 2", "phase 1 and phase 2 of one ring")),
        (lambda pm: replace(pm, overlaps=(replace(pm.overlaps[0], parents=frozenset({1, 4})),)),
         ("overlap 1 has unknown parent phase 4",)),
        (lambda pm: replace(pm, overlaps=(replace(pm.overlaps[0], links=frozenset({3, 1})),)),
         ("overlap 1", "link 1", "conflict")),
        (lambda pm: replace(pm, signal_id="K"), ("checked against signal 'J'",)),
        (lambda pm: replace(pm, phases=(pm.phases[0], replace(pm.phases[1], permissive=frozenset({3})))),
         ("phase 2", "link 3", "permissive but does not drive it")),
    ],
    ids=["out-of-range", "undriven", "concurrent-foes", "bad-permissive", "no-barrier",
         "two-barriers", "ring-unknown-phase", "ring-order", "ped-not-crossing", "number-range",
         "two-phases-one-ring", "overlap-parent", "overlap-conflict", "wrong-signal",
         "permissive-not-driven"],
)  # fmt: skip
def test_the_checker_names_each_mismatch(broken, needles):
    _one(check_phase_map(broken(good_map()), four_leg()), *needles)


def test_links_are_named_by_their_lanes_when_given():
    class L:
        def __init__(self, i: int) -> None:
            self.signal_index, self.from_edge = i, f"e{i}"
            self.from_lane, self.to_lane = f"in{i}_0", f"out{i}_0"

    pm = replace(good_map(), overlaps=())
    _one(check_phase_map(pm, four_leg(), links=[L(i) for i in range(4)]), "link 3 (in3_0→out3_0)")
    assert check_phase_map(pm, four_leg(), never_green={3}) == []


@pytest.mark.sumo
def test_every_phase_combination_reads_back_as_one_a_controller_can_show():
    # state_of then phases_of: where an overlap could be explained by parents in different
    # barrier groups, the one beside the other greens is chosen (else the port would steer a
    # controller toward phases no ring-barrier sequence shows together).
    from clearway.control.priority.field_preemption import phase_combos

    checked = 0
    for net, models in real_nets():
        for sid, model in models.items():
            pm = derive_phase_map(model, net.traffic_lights[sid].default_program,
                                  net.signal_links(sid))  # fmt: skip
            for combo in phase_combos(pm):
                state = state_of(pm, combo)
                greens, yellows = phases_of(pm, state)
                assert not yellows
                assert state_of(pm, greens) == state, (sid, combo, greens)
                rings = [pm.phase(n).ring for n in greens]
                assert len(rings) == len(set(rings)), (sid, combo, greens)
                assert any(greens <= g for g in pm.barriers), (sid, combo, greens)
                checked += 1
    assert checked > 50
