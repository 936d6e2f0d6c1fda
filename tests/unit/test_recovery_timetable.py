"""The program's timetable read at a hold's start, and when the signal may be handed back."""

from __future__ import annotations

import pytest

from clearway.control.priority.schedule import Timetable, entry_phase, foresee

#: The netgenerate grid's two-phase program: N-S 42 s, yellow 3 s, E-W 42 s, yellow 3 s.
PHASES = ("GGrr", "yyrr", "rrGG", "rryy")
DURATIONS = (42.0, 3.0, 42.0, 3.0)
#: N-S (phase 0) starts at 0 s, 90 s, ...; E-W (phase 2) at 45 s, 135 s, ...
TT = Timetable(0, 0.0, DURATIONS)


class FakeNormal:
    """Answers as the fixed-time controller does: the phase in service, and when a set of
    links is next green (``None`` for an adaptive one that cannot say)."""

    def __init__(self, k: int, next_green_s: float | None) -> None:
        self.k = k
        self.next_s = next_green_s
        self.asked: list[frozenset[int]] = []

    def phase_in_service(self, signal_id: str) -> int | None:
        return self.k

    def next_green_s(self, signal_id: str, links: frozenset[int], now_s: float) -> float | None:
        self.asked.append(links)
        return self.next_s


@pytest.mark.parametrize(
    ("t_s", "phase"),
    [(0.0, 0), (41.9, 0), (42.0, 1), (44.9, 1), (45.0, 2), (87.0, 3), (89.9, 3), (90.0, 0),
     (-1.0, 3), (-45.0, 2), (900.0 + 50.0, 2)],
)  # fmt: skip
def test_the_timetable_shows_the_phase_of_its_cycle_at_any_time(t_s, phase):
    assert TT.phase_at(t_s) == phase


def test_an_anchor_on_another_phase_gives_the_same_cycle():
    # E-W starting at 45 s anchors the same timetable as N-S starting at 0 s.
    other = Timetable(2, 45.0, DURATIONS)
    for t in range(-100, 300, 7):
        assert other.phase_at(float(t)) == TT.phase_at(float(t)), t


def test_a_timetable_needs_a_cycle_and_an_anchor_of_its_own():
    with pytest.raises(ValueError, match="cycle"):
        Timetable(0, 0.0, (0.0, 0.0))
    with pytest.raises(ValueError, match="anchor"):
        Timetable(4, 0.0, DURATIONS)


def test_foresee_anchors_the_cycle_on_the_next_phase_with_a_green_of_its_own():
    # N-S in service at 30 s; the controller says E-W is next green at 45 s.
    normal = FakeNormal(0, 45.0)
    tt = foresee(normal, "J", PHASES, DURATIONS, 30.0)
    assert tt == Timetable(2, 45.0, DURATIONS)
    assert normal.asked == [frozenset({2, 3})]  # not the yellow, which greens nothing
    assert tt.phase_at(30.0) == 0


def test_foresee_gives_none_for_a_controller_without_a_timetable():
    assert foresee(FakeNormal(0, None), "J", PHASES, DURATIONS, 30.0) is None
    assert foresee(FakeNormal(0, 29.0), "J", PHASES, DURATIONS, 30.0) is None  # in the past
    class NoPhase(FakeNormal):
        def phase_in_service(self, signal_id):
            return None
    assert foresee(NoPhase(0, 45.0), "J", PHASES, DURATIONS, 30.0) is None
    assert foresee(FakeNormal(0, 45.0), "J", PHASES, DURATIONS[:2], 30.0) is None


def test_the_signal_is_handed_back_only_while_the_timetable_shows_a_green_phase():
    assert entry_phase(PHASES, TT, 10.0) is None
    assert entry_phase(PHASES, TT, 60.0) is None
    assert entry_phase(PHASES, TT, 43.0) == 2  # in N-S's yellow: show E-W until it is due
    assert entry_phase(PHASES, TT, 88.0) == 0
