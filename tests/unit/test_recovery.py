"""Recovery after a priority hold: which phase was interrupted, which phases were cut and in
what order they are served, and how a recovery advances, gives up on a phase and ends."""

from __future__ import annotations

import numpy as np
import pytest

from clearway.control.priority.recovery import (
    Recovery,
    current_phase,
    cut_phases,
    green_links,
    link_queues_m,
    with_someone_waiting,
)
from clearway.network.model import Link
from clearway.state.traffic import TrafficState
from tests.fakes.junctions import four_leg_program

#: 0: N-S through + permissive left + right turn; 1: its yellow; 2: E-W through; 3: its yellow.
PHASES = tuple(p.state for p in four_leg_program().phases)  # GrgG yryG rGrG ryrG
DURATIONS = tuple(p.duration_s for p in four_leg_program().phases)  # 20 3 20 3


def test_green_links_counts_every_kind_of_green():
    assert green_links("GgsyYruoO") == frozenset({0, 1, 2})
    assert green_links("rrr") == frozenset()


# -- current_phase ---------------------------------------------------------------------------
@pytest.mark.parametrize("k", range(4))
def test_a_program_state_is_its_own_phase(k):
    assert current_phase(PHASES, PHASES[k]) == k


def test_a_transition_state_belongs_to_the_phase_whose_greens_it_overlaps_most():
    phases = ("GGrr", "rrGG", "GrGr")
    assert current_phase(phases, "GGrG") == 0  # overlaps 0 on two greens, 1 and 2 on one
    assert current_phase(phases, "rGGG") == 1
    assert current_phase(phases, "GrGy") == 2
    # greens a phase has and the shown state lacks count against it
    assert current_phase(("GGGG", "Grrr"), "Grrr") == 1
    assert current_phase(("GGGG", "GGrr"), "GGry") == 1


def test_ties_go_to_the_earlier_phase():
    assert current_phase(("GGrr", "rrGG"), "rrrr") == 0
    assert current_phase(("rrGG", "GGrr"), "rrrr") == 0
    assert current_phase(("rrGG", "GGrr"), "GyrG") == 0  # 1 - 1 for both
    # ... but a better overlap beats an earlier index
    assert current_phase(("rrGG", "GGrr", "Grrr"), "GyrG") == 2


#: The program of a 4-leg junction of a netgenerate grid (B1 of a 4 x 4 grid): N-S, its
#: yellow, E-W, its yellow. Going into a phase, its right turns turn green a tick early.
GRID_PHASES = ("GGGggrrrrrGGGggrrrrr", "yyyyyrrrrryyyyyrrrrr",
               "rrrrrGGGggrrrrrGGGgg", "rrrrryyyyyrrrrryyyyy")  # fmt: skip


def test_a_state_on_the_way_into_a_phase_is_not_given_to_an_unrelated_phase():
    """'belongs to the phase it came from or goes to': fixed-time shows these states between
    a yellow phase and the next green one (step_toward turns the right turns on first)."""
    into_0 = "rrrrgrrrrrrrrrgrrrrr"  # after phase 3, into phase 0: only phase 0 greens 4 and 14
    into_2 = "rrrrrrrrrgrrrrrrrrrg"  # after phase 1, into phase 2
    assert current_phase(GRID_PHASES, into_2) in (1, 2)
    assert current_phase(GRID_PHASES, into_0) in (3, 0), "phase 1 (N-S yellow) is unrelated"


# -- cut_phases ------------------------------------------------------------------------------
def test_only_phases_greening_a_starved_link_are_cut():
    # link 1 (E-W through) was starved: only phase 2 greens it
    assert cut_phases(PHASES, 0, frozenset({1})) == (2,)
    # link 0 starved: only phase 0 greens it
    assert cut_phases(PHASES, 2, frozenset({0})) == (0,)
    assert cut_phases(PHASES, 1, frozenset()) == ()


def test_cut_phases_start_after_the_interrupted_one_and_wrap():
    starved = frozenset({0, 1, 2})
    assert cut_phases(PHASES, 0, starved) == (2, 0)  # 1, 2, 3, then 0 itself last
    assert cut_phases(PHASES, 1, starved) == (2, 0)
    assert cut_phases(PHASES, 2, starved) == (0, 2)
    assert cut_phases(PHASES, 3, starved) == (0, 2)


def test_the_interrupted_phase_is_served_last_when_it_greens_a_starved_link():
    assert cut_phases(PHASES, 0, frozenset({0})) == (0,)
    # link 3 (the right turn) is green in every phase: every phase is owed, interrupted last
    assert cut_phases(PHASES, 2, frozenset({3})) == (3, 0, 1, 2)


# -- Recovery.advance ------------------------------------------------------------------------
def recovery(queue=(2, 0), hold_end=100.0, durations=DURATIONS) -> Recovery:
    return Recovery(tuple(queue), tuple(durations), hold_end, targeted_since_s=hold_end)


def test_a_phase_is_served_after_its_duration_counted_from_when_it_is_first_shown():
    r = recovery()
    r = r.advance(PHASES, "yryG", 101.0)  # still on the way: nothing counts yet
    assert r.queue == (2, 0) and r.shown_since_s is None
    r = r.advance(PHASES, PHASES[2], 105.0)
    assert r.queue == (2, 0) and r.shown_since_s == 105.0
    r = r.advance(PHASES, PHASES[2], 120.0)  # 20 s after it was targeted, 15 s shown
    assert r.queue == (2, 0)
    r = r.advance(PHASES, PHASES[2], 124.9)
    assert r.queue == (2, 0)
    r = r.advance(PHASES, PHASES[2], 125.0)
    assert r.queue == (0,) and r.shown_since_s is None and r.targeted_since_s == 125.0
    assert not r.done


def test_each_phase_needs_its_own_programmed_duration():
    r = recovery(queue=(1, 2), durations=(20.0, 3.0, 30.0, 3.0))
    r = r.advance(PHASES, PHASES[1], 100.0)
    r = r.advance(PHASES, PHASES[1], 103.0)
    assert r.queue == (2,)
    r = r.advance(PHASES, PHASES[2], 110.0)
    r = r.advance(PHASES, PHASES[2], 139.0)
    assert r.queue == (2,)
    r = r.advance(PHASES, PHASES[2], 140.0)
    assert r.done and r.queue == ()


def test_the_count_runs_from_the_first_showing_even_if_the_phase_was_left_meanwhile():
    r = recovery(queue=(2,))
    r = r.advance(PHASES, PHASES[2], 101.0)
    r = r.advance(PHASES, "ryrG", 110.0)
    assert r.shown_since_s == 101.0
    r = r.advance(PHASES, PHASES[2], 121.0)
    assert r.done


def test_a_phase_that_cannot_be_reached_is_given_up_after_give_up_s():
    r = recovery(queue=(2, 0))
    r = r.advance(PHASES, "yryG", 220.0, give_up_s=120.0)
    assert r.queue == (2, 0)  # exactly give_up_s: not yet
    r = r.advance(PHASES, "yryG", 221.0, give_up_s=120.0)
    assert r.queue == (0,) and r.targeted_since_s == 221.0
    # the give-up clock of the next phase starts when it became the target
    r = r.advance(PHASES, "yryG", 300.0, give_up_s=120.0)
    assert r.queue == (0,)
    r = r.advance(PHASES, "yryG", 341.5, give_up_s=120.0)
    assert r.done


def test_give_up_does_not_cut_a_phase_being_shown():
    r = recovery(queue=(2,), durations=(20.0, 3.0, 200.0, 3.0))
    r = r.advance(PHASES, PHASES[2], 150.0, give_up_s=120.0)
    r = r.advance(PHASES, PHASES[2], 300.0, give_up_s=120.0)
    assert r.queue == (2,)
    assert r.advance(PHASES, PHASES[2], 350.0, give_up_s=120.0).done


def test_done_recovery_stays_done():
    r = recovery(queue=())
    assert r.done
    assert r.advance(PHASES, PHASES[0], 1000.0) is r


def test_recovery_of_a_whole_hold_ends_after_every_cut_phase_was_served():
    """Drive a recovery with the states a signal would show: cut phases in order, each for
    its duration, then done — never earlier."""
    queue = cut_phases(PHASES, 0, frozenset({0, 1, 2}))
    r = recovery(queue=queue, hold_end=0.0)
    shown_plan = [(0.0, "yryG"), (4.0, "rrrG"), (6.0, PHASES[2]), (27.0, "ryrG"), (31.0, "rrrG"),
                  (33.0, PHASES[0])]  # fmt: skip
    t, done_at = 0.0, None
    while t <= 80.0:
        shown = [s for at, s in shown_plan if at <= t][-1]
        r = r.advance(PHASES, shown, t)
        if r.done and done_at is None:
            done_at = t
        t += 1.0
    assert done_at == 53.0  # phase 2 served from 6 to 26 s, phase 0 from 33 to 53 s


# -- passing over a cut phase nobody waits for -------------------------------------------------
def _traffic(queues_m: dict[str, float]):
    lanes = tuple(queues_m)
    z = np.zeros(len(lanes))
    return TrafficState(0.0, lanes, z, z, np.array([queues_m[k] for k in lanes]), z, z)


def _link(index: int, lane: str):
    e = lane.rsplit("_", 1)[0]
    return Link("J", index, lane, "o_0", None, e, "o", "s", "J", index, False, 10.0, 13.9)


def test_a_cut_phase_whose_links_have_no_queue_is_passed_over_and_one_with_a_queue_is_not():
    # Links 0 and 2 (phase 0) from lane n_0, link 1 (phase 2) from lane w_0; 3 from r_0.
    links = [_link(0, "n_0"), _link(2, "n_0"), _link(1, "w_0"), _link(3, "r_0")]
    starved = frozenset({0, 1, 2})
    empty = link_queues_m(links, _traffic({"n_0": 0.0, "w_0": 0.0, "r_0": 0.0}))
    assert with_someone_waiting(PHASES, (2, 0), starved, empty) == ()
    queued = link_queues_m(links, _traffic({"n_0": 15.0, "w_0": 0.0, "r_0": 0.0}))
    assert with_someone_waiting(PHASES, (2, 0), starved, queued) == (0,)
    # Only starved links count: a queue on link 3 (green all along) owes nobody a phase.
    beside = link_queues_m(links, _traffic({"n_0": 0.0, "w_0": 0.0, "r_0": 40.0}))
    assert with_someone_waiting(PHASES, (2, 0), starved, beside) == ()


def test_a_link_without_a_detector_or_a_measured_queue_always_gets_its_turn():
    links = [_link(0, "n_0"), _link(2, "n_0"), _link(1, "w_0")]
    starved = frozenset({0, 1, 2})
    unseen = link_queues_m(links, _traffic({"w_0": 0.0}))  # no detector on n_0
    assert unseen(0) is None
    assert with_someone_waiting(PHASES, (2, 0), starved, unseen) == (0,)
    unmeasured = link_queues_m(links, _traffic({"n_0": float("nan"), "w_0": 0.0}))  # loops
    assert with_someone_waiting(PHASES, (2, 0), starved, unmeasured) == (0,)
