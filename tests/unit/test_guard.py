"""Example-based tests of the safety guard on a hand-made junction (the property tests in
tests/safety/ cover real networks against an independent oracle)."""

from __future__ import annotations

import math

import pytest

from clearway.signals.safety import ApprovedCommand, SafetyGuard, SignalCommand
from clearway.signals.timers import SignalTimers
from tests.fakes.junctions import four_leg


@pytest.fixture
def guard() -> SafetyGuard:
    return SafetyGuard({"J": four_leg(min_green_s=5, yellow_s=3.5, clearance_s=2)})


def timers(state: str, since: float = 0.0, now: float | None = None) -> SignalTimers:
    t = SignalTimers.start("J", state, since)
    return t if now is None else t.observe(state, now)


def cmd(state: str, t: float, **kw) -> SignalCommand:
    return SignalCommand("J", state, t, **kw)


def codes(verdict) -> set[str]:
    return {r.split(":")[0] for r in verdict.reasons}


def test_holding_a_safe_state_is_approved(guard):
    v = guard.check(cmd("GrgG", 1.0), timers("GrgG", 0.0, 1.0))
    assert v.ok and isinstance(v.approved, ApprovedCommand) and v.reasons == ()


def test_two_crossing_protected_greens_are_rejected(guard):
    v = guard.check(cmd("GGrG", 30.0), timers("GrrG", 0.0, 30.0))
    assert not v.ok and "R1-conflict" in codes(v)


def test_permissive_left_beside_opposing_through_is_allowed_but_protected_is_not(guard):
    assert guard.check(cmd("GrgG", 30.0), timers("GrrG", 0.0, 30.0)).ok
    v = guard.check(cmd("GrGG", 30.0), timers("GrrG", 0.0, 30.0))
    assert not v.ok and "R1-conflict" in codes(v)


@pytest.mark.parametrize("held_s, ok", [(4.9, False), (5.0, True)])
def test_min_green_is_served_before_yellow(guard, held_s, ok):
    v = guard.check(cmd("yryG", held_s), timers("GrgG", 0.0, held_s))
    assert v.ok is ok
    if not ok:
        assert "R2-min-green" in codes(v)


def test_green_never_goes_straight_to_red(guard):
    v = guard.check(cmd("rrrG", 60.0), timers("GrgG", 0.0, 60.0))
    assert not v.ok and "R2-yellow" in codes(v)


@pytest.mark.parametrize("held_s, ok", [(3.4, False), (3.5, True)])
def test_yellow_is_never_cut_short(guard, held_s, ok):
    t = timers("GrgG", 0.0, 10.0).observe("yryG", 10.0)
    assert guard.check(cmd("rrrG", 10.0 + held_s), t.observe("yryG", 10.0 + held_s)).ok is ok


def test_yellow_back_to_green_and_red_to_yellow_are_rejected(guard):
    t = timers("GrgG", 0.0, 10.0).observe("yryG", 10.0)
    assert "R2-yellow" in codes(guard.check(cmd("GryG", 20.0), t.observe("yryG", 20.0)))
    t2 = timers("rGrG", 0.0, 10.0)
    assert "R2-yellow" in codes(guard.check(cmd("yGrG", 11.0), t2.observe("rGrG", 11.0)))


@pytest.mark.parametrize("red_s, ok", [(1.9, False), (2.0, True)])
def test_conflicting_green_waits_for_red_clearance(guard, red_s, ok):
    t = timers("GrgG", 0.0, 10.0).observe("yryG", 10.0).observe("rrrG", 14.0)
    v = guard.check(cmd("rGrG", 14.0 + red_s), t.observe("rrrG", 14.0 + red_s))
    assert v.ok is ok
    if not ok:
        assert "R3-clearance" in codes(v)


def test_turning_green_while_a_foe_is_yellow_is_rejected(guard):
    t = timers("GrgG", 0.0, 10.0).observe("yryG", 10.0)
    v = guard.check(cmd("yGyG", 20.0), t.observe("yryG", 20.0))
    assert "R3-clearance" in codes(v)


def test_emergency_never_shortens_clearance(guard):
    t = timers("GrgG", 0.0, 10.0).observe("yryG", 10.0).observe("rrrG", 14.0)
    normal = guard.check(cmd("rGrG", 15.0), t.observe("rrrG", 15.0))
    urgent = guard.check(cmd("rGrG", 15.0, emergency=True), t.observe("rrrG", 15.0))
    assert not normal.ok and not urgent.ok and normal.reasons == urgent.reasons


def test_first_observation_is_conservative(guard):
    # Nothing is known about the past: a red link has been red for 0 s, so a conflicting green
    # must wait the full clearance even right after take-over.
    v = guard.check(cmd("rGrG", 0.0), timers("rrrG", 0.0, 0.0))
    assert "R3-clearance" in codes(v)


@pytest.mark.parametrize(
    "command, timer, reason",
    [
        (SignalCommand("nope", "GrgG", 1.0), timers("GrgG"), "unknown signal"),
        (cmd("Grg", 1.0), timers("GrgG"), "4 characters"),
        (cmd("GrXG", 1.0), timers("GrgG"), "unknown state characters"),
        (cmd("GrgG", math.nan), timers("GrgG"), "finite"),
        (cmd("GrgG", 1.0), None, "no observed state"),
        (cmd("GrgG", 10.0), timers("GrgG", 0.0, 1.0), "stale"),
        (cmd("GrgG", 0.5), timers("GrgG", 0.0, 1.0), "before the observed state"),
        (cmd("GrgO", 1.0), timers("GrgG", 0.0, 1.0), "switched off"),
        ("GrgG", timers("GrgG"), "expected a SignalCommand"),
    ],
)
def test_malformed_or_unknown_input_fails_closed(guard, command, timer, reason):
    v = guard.check(command, timer)
    assert not v.ok and v.approved is None
    assert any(reason in r for r in v.reasons), v.reasons
    assert all(r.startswith("R5-malformed") for r in v.reasons)


def test_only_the_guard_makes_approved_commands(guard):
    with pytest.raises(TypeError):
        ApprovedCommand(cmd("GrgG", 1.0))
    approved = guard.check(cmd("GrgG", 1.0), timers("GrgG", 0.0, 1.0)).approved
    with pytest.raises(AttributeError):
        approved.state = "GGGG"


def test_an_approved_command_carries_every_field_it_has(guard):
    sent = SignalCommand("J", "GrgG", 1.0, source="ctl", emergency=True, then="GrgG")
    approved = guard.check(sent, timers("GrgG", 0.0, 1.0)).approved
    assert approved is not None
    for name in ApprovedCommand.__slots__:
        assert getattr(approved, name) == getattr(sent, name), name


def test_every_rejection_lists_every_broken_rule(guard):
    # Straight to a conflicting state from a fresh green: conflict, min green and skipped yellow.
    v = guard.check(cmd("rGGG", 1.0), timers("GrgG", 0.0, 1.0))
    assert {"R1-conflict", "R2-min-green", "R2-yellow", "R3-clearance"} <= codes(v)


def test_dropping_a_protected_left_does_not_let_the_opposing_through_start_at_once(guard):
    # Link 2 (the left) showed a protected arrow; going permissive while the opposing through
    # (0) starts would leave arrow traffic in the junction: it needs yellow + clearance first.
    t = timers("rrGG", 0.0, 30.0)
    v = guard.check(cmd("GrgG", 30.0), t)
    assert not v.ok and "R3-clearance" in codes(v)
    t = t.observe("rrgG", 30.0)
    assert "R3-clearance" in codes(guard.check(cmd("GrgG", 35.4), t.observe("rrgG", 35.4)))
    assert guard.check(cmd("GrgG", 35.5), t.observe("rrgG", 35.5)).ok


def test_a_permissive_green_seen_first_counts_as_just_unprotected(guard):
    t = timers("rrgG", 0.0, 0.0)
    assert "R3-clearance" in codes(guard.check(cmd("GrgG", 1.0), t.observe("rrgG", 1.0)))
