"""Every rule of the guard at its limits, on a small hand-made junction (no SUMO, < 1 s).

Each test puts one timing exactly at its limit, 1 ms before it and (where the guard's
``TIME_EPS_S`` tolerance matters) exactly at the edge of that tolerance, and asserts the exact
set of rule codes. These tests are the fast subset ``tools/mutation.py`` runs against every
mutant of ``clearway/signals/safety`` first, and they keep its branch coverage at 100 %
(``test_safety_branch_coverage.py``).

The junction ``X`` (link: meaning, min green / yellow / clearance in s):

* 0: north-south through, protected               5 / 3 / 2
* 1: opposing left turn, yields to 0 (``g`` beside 0's ``G``)   4 / 1 / 1.5
* 2: east-west through, hard foe of 0 and 1        6 / 4 / 2.5
* 3: pedestrian crossing over east-west (hard foe of 2; no yellow)   7 / 0 / 9
* 4: not driven: every program shows it off (``fixed_off``)
"""

from __future__ import annotations

import math

import pytest

from clearway.signals.model import FOE, HARD, TIME_EPS_S, YIELDS, Intersection, LinkTimings
from clearway.signals.safety import (
    DEFAULT_MAX_STATE_AGE_S,
    ApprovedCommand,
    SafetyGuard,
    SignalCommand,
    Verdict,
)
from clearway.signals.timers import SignalTimers

R1, R2_MIN, R2_YELLOW, R3, R5 = (
    "R1-conflict",
    "R2-min-green",
    "R2-yellow",
    "R3-clearance",
    "R5-malformed",
)
MS = 1e-3

TIMINGS = (
    LinkTimings(5.0, 3.0, 2.0),
    LinkTimings(4.0, 1.0, 1.5),
    LinkTimings(6.0, 4.0, 2.5),
    LinkTimings(7.0, 0.0, 9.0),
    LinkTimings(1.0, 1.0, 1.0),
)


def relation(n: int) -> tuple[tuple[int, ...], ...]:
    rel = [[0] * n for _ in range(n)]
    rel[0][1] = FOE
    rel[1][0] = FOE | YIELDS
    for a, b in ((0, 2), (1, 2), (2, 3)):
        rel[a][b] = rel[b][a] = FOE | HARD
    return tuple(tuple(row) for row in rel)


X = Intersection(
    "X", ("jx",), relation(5), TIMINGS, (False, False, False, True, False), frozenset({4})
)
#: The same junction without the undriven link: nothing is fixed off.
Y = Intersection("Y", ("jy",), relation(4), TIMINGS[:4], (False, False, False, True))


@pytest.fixture(scope="module")
def guard() -> SafetyGuard:
    return SafetyGuard({"X": X, "Y": Y})


def history(*steps: tuple[str, float], sid: str = "X") -> SignalTimers:
    """Timers after observing ``(state, time)`` steps; the first one starts them."""
    (state, t), *rest = steps
    timers = SignalTimers.start(sid, state, t)
    for state, t in rest:
        timers = timers.observe(state, t)
    return timers


def verdict(guard: SafetyGuard, timers: SignalTimers | None, state: object, t: object,
            sid: str = "X") -> Verdict:  # fmt: skip
    """The guard's verdict on ``state`` at ``t``; a fresh report of the shown state at ``t``
    first (as the adapter sends one every step), and R4: the emergency flag changes nothing."""
    if timers is not None and isinstance(t, float) and math.isfinite(t) and t >= timers.time_s:
        timers = timers.observe(timers.state, t)
    out = []
    for emergency in (False, True):
        v = guard.check(SignalCommand(sid, state, t, source="test", emergency=emergency), timers)  # type: ignore[arg-type]
        assert v.ok == (not v.reasons) == (v.approved is not None)
        out.append(v)
    assert (out[0].ok, out[0].reasons) == (out[1].ok, out[1].reasons)
    return out[0]


def codes(v: Verdict) -> set[str]:
    return {r.split(":", 1)[0] for r in v.reasons}


def judge(guard: SafetyGuard, timers: SignalTimers | None, state: object, t: object,
          sid: str = "X") -> set[str]:  # fmt: skip
    return codes(verdict(guard, timers, state, t, sid))


def tolerance_edge(limit: float) -> float:
    """The time ``t`` at which ``t + TIME_EPS_S == limit`` exactly (in floats): an interval
    that started at 0 s has run out by the guard's tolerance, and by no more."""
    t = limit - TIME_EPS_S
    for _ in range(64):
        v = t + TIME_EPS_S
        if v == limit:
            return t
        t = math.nextafter(t, -math.inf if v > limit else math.inf)
    raise AssertionError(f"no float t with t + {TIME_EPS_S} == {limit}")


# -- the verdict and the approved command -----------------------------------------------------
def test_an_approval_carries_the_command_and_no_reason(guard: SafetyGuard) -> None:
    cmd = SignalCommand("X", "GgrrO", 10.0, source="ctl")
    v = guard.check(cmd, history(("rrrrO", 0.0), ("GgrrO", 10.0)))
    assert v.ok and v.reasons == () and v.command is cmd
    a = v.approved
    assert isinstance(a, ApprovedCommand)
    assert (a.signal_id, a.state, a.time_s, a.source) == ("X", "GgrrO", 10.0, "ctl")
    assert repr(a) == "ApprovedCommand('X', 'GgrrO', t=10.0)"
    with pytest.raises(AttributeError, match="immutable"):
        a.state = "GGGGO"  # type: ignore[misc]
    assert a.state == "GgrrO"


def test_only_the_guard_makes_approved_commands() -> None:
    cmd = SignalCommand("X", "rrrrO", 0.0)
    for token in (None, object()):
        with pytest.raises(TypeError, match="only by SafetyGuard"):
            ApprovedCommand(cmd, _token=token)


def test_commands_and_verdicts_are_immutable_and_no_emergency_by_default(
    guard: SafetyGuard,
) -> None:
    cmd = SignalCommand("X", "rrrrO", 0.0)
    assert cmd.emergency is False and cmd.source == ""
    v = guard.check(cmd, history(("rrrrO", 0.0)))
    for obj, field in ((cmd, "state"), (v, "reasons")):
        with pytest.raises(AttributeError):
            setattr(obj, field, "GGGGO")


def test_a_rejection_carries_no_approved_command(guard: SafetyGuard) -> None:
    v = guard.check(SignalCommand("X", "GrGrO", 10.0), history(("rrrrO", 0.0), ("rrrrO", 10.0)))
    assert not v.ok and v.approved is None and codes(v) == {R1}


def test_the_guard_keeps_its_own_read_only_copy_of_the_models() -> None:
    models = {"X": X}
    g = SafetyGuard(models, max_state_age_s=1)
    models["Y"] = Y
    assert set(g.intersections) == {"X"} and g.intersections["X"] is X
    with pytest.raises(TypeError):
        g.intersections["Y"] = Y  # type: ignore[index]
    assert g.max_state_age_s == 1.0 and isinstance(g.max_state_age_s, float)


def test_every_broken_rule_is_reported_at_once(guard: SafetyGuard) -> None:
    # 0 ends its green after 1 s, 1 and 2 turn protected green together while 0 is yellow
    assert judge(guard, history(("GrrrO", 0.0)), "yGGrO", 1.0) == {R1, R2_MIN, R3}


# -- R5: fail closed --------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["rrrr", "rrrrOr", "", None, 5, list("rrrrO")])
def test_a_state_of_the_wrong_length_or_type_is_malformed(guard: SafetyGuard, state) -> None:
    v = verdict(guard, history(("rrrrO", 0.0)), state, 1.0)
    assert codes(v) == {R5} and len(v.reasons) == 1
    assert "5 characters" in v.reasons[0]


@pytest.mark.parametrize("c", "UxR- ?")
def test_an_unknown_state_character_is_malformed(guard: SafetyGuard, c: str) -> None:
    v = verdict(guard, history(("rrrrO", 0.0)), c + "rrrO", 1.0)
    assert v.reasons == (
        f"R5-malformed: unknown state characters {c!r} (allowed: GgsyYurOo)",
    )


@pytest.mark.parametrize("t", [math.nan, math.inf, -math.inf, "1.0", None])
def test_a_time_that_is_not_a_finite_number_is_malformed(guard: SafetyGuard, t) -> None:
    assert judge(guard, history(("rrrrO", 0.0)), "rrrrO", t) == {R5}


def test_an_unknown_signal_or_no_command_is_malformed(guard: SafetyGuard) -> None:
    timers = history(("rrrrO", 0.0))
    assert judge(guard, timers, "rrrrO", 0.0, sid="Z") == {R5}
    v = guard.check(("X", "rrrrO", 0.0), timers)  # type: ignore[arg-type]
    assert not v.ok and v.reasons == ("R5-malformed: expected a SignalCommand, got tuple",)


def test_no_history_or_someone_elses_history_is_malformed(guard: SafetyGuard) -> None:
    assert verdict(guard, None, "rrrrO", 0.0).reasons == (
        "R5-malformed: no observed state for 'X'; cannot judge",
    )
    assert verdict(guard, history(("rrrr", 0.0), sid="Y"), "rrrrO", 0.0).reasons == (
        "R5-malformed: observed state belongs to 'Y', not 'X'",
    )
    # another signal's history of the same length
    assert judge(guard, history(("rrrrO", 0.0), sid="Z"), "rrrrO", 0.0) == {R5}
    # the right name but the wrong number of links
    assert judge(guard, history(("rrrr", 0.0)), "rrrrO", 0.0) == {R5}
    assert judge(guard, history(("rrrrOr", 0.0)), "rrrrO", 0.0) == {R5}
    assert judge(guard, history(("rrrrO", 0.0)), "rrrrO", 0.0) == set()


def test_the_default_age_limit_is_two_seconds() -> None:
    assert DEFAULT_MAX_STATE_AGE_S == 2.0
    g = SafetyGuard({"X": X})
    assert g.max_state_age_s == 2.0
    seen = history(("rrrrO", 0.0))
    assert g.check(SignalCommand("X", "rrrrO", 2.0), seen).ok
    assert not g.check(SignalCommand("X", "rrrrO", 2.0 + MS), seen).ok


@pytest.mark.parametrize("max_age", [0.5, 2.0, 30.0])
def test_the_observation_is_fresh_from_its_time_to_the_age_limit(max_age: float) -> None:
    g = SafetyGuard({"X": X}, max_state_age_s=max_age)
    seen = history(("rrrrO", -50.0), ("rrrrO", 0.0))

    def ok(t: float) -> bool:
        v = g.check(SignalCommand("X", "rrrrO", t), seen)
        assert v.ok or codes(v) == {R5}
        return v.ok

    # before the observation: 1 ms is too early, the tolerance is not
    assert not ok(-MS) and ok(-TIME_EPS_S / 2) and ok(-TIME_EPS_S) and ok(0.0)
    # after it: up to the limit plus the tolerance, not 1 ms more
    assert ok(max_age) and ok(max_age + TIME_EPS_S / 2) and ok(max_age + TIME_EPS_S)
    assert not ok(max_age + MS)
    v = g.check(SignalCommand("X", "rrrrO", max_age + 1.0), seen)
    assert "stale" in v.reasons[0] and f"limit {max_age} s" in v.reasons[0]


def test_the_undriven_link_must_stay_off_and_driven_links_on(guard: SafetyGuard) -> None:
    seen = history(("rrrrO", 0.0))
    assert judge(guard, seen, "rrrrO", 1.0) == set()
    assert judge(guard, seen, "rrrro", 1.0) == set()  # o and O are both off
    v = verdict(guard, seen, "rrrrr", 1.0)
    assert v.reasons == ("R5-malformed: link 4 may not be switched on",)
    v = verdict(guard, seen, "OrrrO", 1.0)
    assert v.reasons == ("R5-malformed: link 0 may not be switched off",)
    v = verdict(guard, seen, "rOrrr", 1.0)  # every offending link is named
    assert v.reasons == (
        "R5-malformed: link 1 may not be switched off",
        "R5-malformed: link 4 may not be switched on",
    )


def test_without_undriven_links_nothing_may_be_off(guard: SafetyGuard) -> None:
    seen = history(("rrrr", 0.0), sid="Y")
    assert judge(guard, seen, "rrrr", 1.0, sid="Y") == set()
    for state in ("rrrO", "orrr", "rrOr"):
        assert judge(guard, seen, state, 1.0, sid="Y") == {R5}


def test_a_link_observed_off_or_on_against_the_model_never_switches(guard: SafetyGuard) -> None:
    # The adapter reports a driven link dark (a lamp fault) or the undriven link lit: the guard
    # approves no command that switches such a link, however long it has shown that.
    dark = history(("OrrrO", 0.0), ("OrrrO", 100.0))
    v = verdict(guard, dark, "rrrrO", 100.0)
    assert v.reasons == ("R5-malformed: link 0 may not switch between off and red",)
    assert judge(guard, dark, "GrrrO", 100.0) == {R5}
    lit = history(("rrrrr", 0.0), ("rrrrr", 100.0))
    v = verdict(guard, lit, "rrrrO", 100.0)
    assert v.reasons == ("R5-malformed: link 4 may not switch between off and off",)


def test_a_history_that_cannot_be_read_fails_closed(guard: SafetyGuard) -> None:
    # Corrupted timers (no per-link times) or an unknown character in the observed state:
    # judging raises inside the rules, and the guard answers with a rejection, never an error.
    broken = SignalTimers("X", "GrrrO", 10.0, (), "", ())
    v = guard.check(SignalCommand("X", "yrrrO", 10.0), broken)
    assert not v.ok and v.approved is None and codes(v) == {R5}
    assert v.reasons[0].startswith("R5-malformed: could not be judged (IndexError: ")
    garbled = SignalTimers("X", "ZrrrO", 10.0, (0.0,) * 5, "GGGGG", (-math.inf,) * 5)
    v = guard.check(SignalCommand("X", "rrrrO", 10.0), garbled)
    assert not v.ok and v.reasons == ("R5-malformed: could not be judged (KeyError: 'Z')",)


def test_a_history_too_short_for_the_foes_of_a_turning_green_fails_closed(guard: SafetyGuard) -> None:
    # Link 0 turns green; its foe 2's time is missing: the short test of the red foes
    # raises, and the long one says why, as it always did.
    short = SignalTimers("X", "rrrrO", 10.0, (0.0,), "GGGGG", (-math.inf,) * 5)
    v = guard.check(SignalCommand("X", "GrrrO", 10.0), short)
    assert not v.ok and v.reasons == (
        "R5-malformed: could not be judged (IndexError: tuple index out of range)",
    )


class _Text(str):
    """A str subclass: judged afresh every time (its checks are not kept per string)."""


def test_a_state_of_a_str_subclass_is_judged_as_the_plain_string(guard: SafetyGuard) -> None:
    seen = history(("rrrrO", 0.0), ("rrrrO", 100.0))
    for state in ("GrrrO", "rrrrr"):
        for t in (100.0, 103.0):
            plain = guard.check(SignalCommand("X", state, t), seen)
            sub = guard.check(SignalCommand("X", _Text(state), t), seen)
            assert (sub.ok, sub.reasons) == (plain.ok, plain.reasons), (state, t)
    assert guard.check(SignalCommand("X", _Text("GrrrO"), 100.0), seen).ok
    assert codes(guard.check(SignalCommand("X", _Text("GrrrO"), 103.0), seen)) == {R5}  # stale
    assert codes(guard.check(SignalCommand("X", _Text("Grrr"), 100.0), seen)) == {R5}  # short


def test_malformed_is_all_a_malformed_command_is_told(guard: SafetyGuard) -> None:
    # stale and also conflicting: only R5 (the other rules are not judged on a bad input)
    v = guard.check(SignalCommand("X", "GrGrO", 50.0), history(("rrrrO", 0.0)))
    assert codes(v) == {R5} and len(v.reasons) == 1


# -- R1: conflicting greens -------------------------------------------------------------------
def test_conflicting_greens(guard: SafetyGuard) -> None:
    seen = history(("rrrrO", -100.0), ("GrrrO", -50.0))
    assert judge(guard, seen, "GgrrO", 0.0) == set()  # the left turn yields to the through
    assert judge(guard, seen, "GGrrO", 0.0) == {R1}
    v = verdict(guard, seen, "GrGrO", 0.0)
    assert v.reasons == ("R1-conflict: links 0 (G) and 2 (G) conflict and may not be green together",)
    assert judge(guard, seen, "GrgrO", 0.0) == {R1}  # a hard foe: not even permissive
    assert judge(guard, seen, "GrrGO", 0.0) == set()  # the crossing is no foe of 0


# -- R2: min green ----------------------------------------------------------------------------
def test_min_green_limit(guard: SafetyGuard) -> None:
    seen = history(("GrrrO", 0.0))
    for t in (1.0, 5.0 - 0.1, 5.0 - MS):
        v = verdict(guard, seen, "yrrrO", t)
        assert codes(v) == {R2_MIN}
    assert v.reasons == ("R2-min-green: link 0 green for 5.0 s, minimum 5.0 s",)
    assert judge(guard, seen, "yrrrO", 5.0) == set()
    assert judge(guard, seen, "yrrrO", 5.0 - TIME_EPS_S / 2) == set()
    assert judge(guard, seen, "yrrrO", tolerance_edge(5.0)) == set()


def test_protection_dropped_does_not_restart_the_min_green(guard: SafetyGuard) -> None:
    seen = history(("GrrrO", 0.0), ("grrrO", 3.0))
    assert judge(guard, seen, "yrrrO", 5.0 - MS) == {R2_MIN}
    assert judge(guard, seen, "yrrrO", 5.0) == set()


def test_a_green_never_goes_straight_to_red_if_it_has_a_yellow(guard: SafetyGuard) -> None:
    seen = history(("GrrrO", 0.0))
    assert judge(guard, seen, "rrrrO", 5.0) == {R2_YELLOW}
    assert judge(guard, seen, "rrrrO", 5.0 - MS) == {R2_MIN, R2_YELLOW}
    left = history(("rGrrO", 0.0))  # its yellow is 1 s: still a yellow
    assert judge(guard, left, "rrrrO", 4.0) == {R2_YELLOW}
    assert judge(guard, left, "ryrrO", 4.0) == set()


def test_a_crossing_goes_from_green_to_red_at_its_min_green(guard: SafetyGuard) -> None:
    seen = history(("rrrGO", 0.0))
    assert judge(guard, seen, "rrrrO", 7.0 - MS) == {R2_MIN}
    assert judge(guard, seen, "rrrrO", 7.0) == set()
    assert judge(guard, seen, "rrryO", 7.0) == set()  # a yellow of its own is allowed too


# -- R2: yellow -------------------------------------------------------------------------------
def test_yellow_limit(guard: SafetyGuard) -> None:
    seen = history(("GrrrO", -10.0), ("yrrrO", 0.0))
    for t in (0.5, 3.0 - 0.1, 3.0 - MS):
        v = verdict(guard, seen, "rrrrO", t)
        assert codes(v) == {R2_YELLOW}
    assert v.reasons == ("R2-yellow: link 0 yellow for 3.0 s, minimum 3.0 s",)
    assert judge(guard, seen, "rrrrO", 3.0) == set()
    assert judge(guard, seen, "rrrrO", 3.0 - TIME_EPS_S / 2) == set()
    assert judge(guard, seen, "rrrrO", tolerance_edge(3.0)) == set()
    # minor and major yellow are one aspect: switching between them is no new yellow
    assert judge(guard, seen, "YrrrO", 0.5) == set()


def test_yellow_never_returns_to_green_and_red_never_goes_to_yellow(guard: SafetyGuard) -> None:
    yellow = history(("GrrrO", -10.0), ("yrrrO", 0.0))
    for t in (0.5, 3.0, 2.0 + 2.0):
        assert judge(guard, yellow.observe("yrrrO", t - 1.0), "GrrrO", t) == {R2_YELLOW}
    v = verdict(guard, yellow, "grrrO", 1.0)
    assert v.reasons == ("R2-yellow: link 0 may not go from yellow back to green",)
    red = history(("rrrrO", 0.0))
    assert judge(guard, red, "yrrrO", 100.0) == {R2_YELLOW}
    assert judge(guard, red, "YrrrO", 100.0) == {R2_YELLOW}
    assert judge(guard, red, "urrrO", 100.0) == set()  # red+yellow is a red
    assert judge(guard, red, "GrrrO", 100.0) == set()


# -- R3: clearance ----------------------------------------------------------------------------
def test_clearance_limit_after_a_foe_ends(guard: SafetyGuard) -> None:
    # 2 (east-west) ends: yellow from -4 s, red from 0 s; its clearance is 2.5 s
    seen = history(("rrGrO", -20.0), ("rryrO", -4.0), ("rrrrO", 0.0))
    for turning in ("GrrrO", "rGrrO", "rgrrO"):
        for t in (0.0, 2.5 - 0.1, 2.5 - MS):
            v = verdict(guard, seen, turning, t)
            assert codes(v) == {R3}, (turning, t)
        assert judge(guard, seen, turning, 2.5) == set()
        assert judge(guard, seen, turning, 2.5 - TIME_EPS_S / 2) == set()
        assert judge(guard, seen, turning, tolerance_edge(2.5)) == set()
    assert v.reasons == (
        "R3-clearance: link 1 may not turn green: conflicting link 2 red for 2.5 s, clearance 2.5 s",
    )
    # it counts as a protected green even if it showed only permissive ones (a hard foe)
    perm = history(("rrrrO", -30.0), ("rrgrO", -20.0), ("rryrO", -4.0), ("rrrrO", 0.0))
    assert perm.last_green[2] == "g"
    assert judge(guard, perm, "GrrrO", 2.5 - MS) == {R3}
    assert judge(guard, perm, "GrrrO", 2.5) == set()
    # so does the crossing over the east-west street
    assert judge(guard, seen, "rrrGO", 2.5 - MS) == {R3}
    assert judge(guard, seen, "rrrGO", 2.5) == set()


def test_the_pedestrian_clearance_holds_the_crossed_traffic(guard: SafetyGuard) -> None:
    seen = history(("rrrGO", -20.0), ("rrrrO", 0.0))
    assert judge(guard, seen, "rrGrO", 9.0 - MS) == {R3}
    assert judge(guard, seen, "rrGrO", 9.0) == set()


def test_a_foe_still_green_or_yellow_blocks_however_long_it_has_shown_it(guard: SafetyGuard) -> None:
    seen = history(("rrGrO", -100.0))
    v = verdict(guard, seen, "GryrO", 0.0)  # 2 ends now, 0 starts now
    assert v.reasons == ("R3-clearance: link 0 may not turn green while conflicting link 2 is green",)
    yellow = history(("rrGrO", -100.0), ("rryrO", -50.0))
    assert judge(guard, yellow, "GryrO", 0.0) == {R3}
    assert judge(guard, yellow, "GrrrO", 0.0) == {R3}


def test_holding_a_green_is_not_turning_green(guard: SafetyGuard) -> None:
    # right after the first observation nothing has been red for its clearance; a green held
    # (or dropping its protection) is not judged by R3
    seen = history(("GrrrO", 0.0))
    assert judge(guard, seen, "GrrrO", 1.0) == set()
    assert judge(guard, seen, "grrrO", 1.0) == set()
    assert judge(guard, seen, "GrrGO", 1.0) == {R3}  # a crossing turning on: 2 not cleared
    assert judge(guard, seen, "GrrGO", 2.5) == set()


def test_a_protected_foe_that_just_ended_blocks_a_protected_green(guard: SafetyGuard) -> None:
    # the left turn ran protected (G) and is yellow: the through waits for its clearance
    prot = history(("rrrrO", -20.0), ("rGrrO", -10.0), ("ryrrO", -1.0))
    assert judge(guard, prot, "GyrrO", 0.0) == {R3}
    # the left turn ran permissive (g): it yields to the through, which may start at once
    perm = history(("rrrrO", -20.0), ("rgrrO", -10.0), ("ryrrO", -1.0))
    assert judge(guard, perm, "GyrrO", 0.0) == set()
    # the left turn may start permissive while the through is still yellow
    through = history(("GrrrO", -20.0), ("yrrrO", -1.0))
    assert judge(guard, through, "ygrrO", 0.0) == set()
    assert judge(guard, through, "yGrrO", 0.0) == {R3}


def test_permissive_to_protected_waits_for_the_clearance(guard: SafetyGuard) -> None:
    # 1 runs permissive beside 0; 0 ends (yellow from -3 s, red from 0 s, clearance 2 s)
    seen = history(("rrrrO", -30.0), ("GgrrO", -20.0), ("ygrrO", -3.0), ("rgrrO", 0.0))
    assert judge(guard, seen, "rgrrO", 1.0) == set()
    for t in (0.0, 2.0 - MS):
        assert judge(guard, seen, "rGrrO", t) == {R3}
    assert judge(guard, seen, "rGrrO", 2.0) == set()
    assert judge(guard, seen, "rGrrO", tolerance_edge(2.0)) == set()
    assert judge(guard, seen.observe("ygrrO", -2.0), "yGrrO", -1.0) == {R3}


def test_a_foe_dropping_its_protection_clears_its_yellow_arrow_first(guard: SafetyGuard) -> None:
    # 1 ran protected (G) and drops to permissive (g) at 0 s; 0 may start beside it only after
    # 1's yellow + clearance (1 + 1.5 s): the "yellow arrow" interval
    prot = history(("rrrrO", -30.0), ("rGrrO", -20.0))
    v = verdict(guard, prot, "GgrrO", 0.0)
    assert v.reasons == (
        "R3-clearance: link 0 may not turn green: conflicting link 1 drops its protected green "
        "now and needs 2.5 s to clear it",
    )
    seen = prot.observe("rgrrO", 0.0)
    for t in (0.0, 1.0, 2.5 - MS):
        v = verdict(guard, seen, "GgrrO", t)
        assert codes(v) == {R3}
    assert v.reasons == (
        "R3-clearance: link 0 may not turn green: conflicting link 1 dropped its protected green "
        "at 0.0 s and needs 2.5 s to clear it",
    )
    assert judge(guard, seen, "GgrrO", 2.5) == set()
    assert judge(guard, seen, "GgrrO", 2.5 - TIME_EPS_S / 2) == set()
    assert judge(guard, seen, "GgrrO", tolerance_edge(2.5)) == set()
    # a foe still protected is R1's business alone
    assert judge(guard, prot, "GGrrO", 0.0) == {R1}
    # a foe permissive all along (last green g) has no yellow arrow to clear
    perm = history(("rrrrO", -30.0), ("rgrrO", -20.0))
    assert judge(guard, perm, "GgrrO", 0.0) == set()


# -- the target ``then`` (field controllers steered straight to it) ---------------------------
def test_a_target_is_judged_for_conflicting_greens_and_carried_when_approved(guard: SafetyGuard) -> None:
    seen = history(("rrrrO", -100.0), ("GrrrO", -50.0), ("GrrrO", 0.0))
    ok = guard.check(SignalCommand("X", "GrrrO", 0.0, then="GgrGO"), seen)
    assert ok.ok and ok.approved is not None and ok.approved.then == "GgrGO"
    assert guard.check(SignalCommand("X", "GrrrO", 0.0), seen).approved.then is None
    v = guard.check(SignalCommand("X", "GrrrO", 0.0, then="GrGrO"), seen)
    assert v.reasons == (
        "R1-conflict: target 'then' has links 0 (G) and 2 (G) green together, which conflict",
    )
    # the step itself conflicting and the target too: both are told
    v = guard.check(SignalCommand("X", "GGrrO", 0.0, then="rGGrO"), seen)
    assert codes(v) == {R1} and len(v.reasons) == 2


@pytest.mark.parametrize("then", ["rrrr", "rrrrOr", "", 5, "rrZrO"])
def test_a_target_of_the_wrong_length_type_or_characters_is_malformed(guard: SafetyGuard, then) -> None:
    v = guard.check(SignalCommand("X", "rrrrO", 1.0, then=then), history(("rrrrO", 0.0)))
    assert not v.ok and codes(v) == {R5} and "target state 'then'" in v.reasons[0]


def test_a_target_may_not_switch_the_undriven_link_on_or_a_driven_one_off(guard: SafetyGuard) -> None:
    seen = history(("rrrrO", 0.0))
    v = guard.check(SignalCommand("X", "rrrrO", 1.0, then="rrrrr"), seen)
    assert v.reasons == ("R5-malformed: link 4 may not be switched on in target 'then'",)
    v = guard.check(SignalCommand("Y", "rrrr", 1.0, then="Orrr"), history(("rrrr", 0.0), sid="Y"))
    assert v.reasons == ("R5-malformed: link 0 may not be switched off in target 'then'",)
