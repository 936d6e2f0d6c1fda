"""Property tests: the safety guard approves exactly what the independent oracle calls safe.

Random command sequences on real junction models (a generated grid, Berlin, Braunschweig,
Braunschweig with pedestrian crossings): each step lets some time pass (biased to the moments a
link's min green, yellow or clearance runs out), proposes a state built by mutating what the
signal shows (mostly valid characters, sometimes invalid ones, a wrong length, an unknown
signal, a non-finite time, stale or missing history), and compares the guard's verdict with the
oracle's — approval and the set of rule codes. Approved states are then "shown" (the timers
observe them), as an adapter would. ``step_toward`` is fed the same histories and must only
produce states both the guard and the oracle accept, and must reach its target.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

from clearway.signals.safety import SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.signals.transition import follow, plan_transition, plan_wake_s, step_toward

from .conftest import NetCase
from .oracle import GREEN, History, OracleSignal, aspect_of, codes_of, judge

pytestmark = pytest.mark.sumo

PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALID = "GGGgggsyyyrrrrru"
INVALID = "UxOo R-"
PLAIN_DT_S = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0)
LIMIT_OFFSETS_S = (-1.0, -0.1, -1e-3, 0.0, 0.0, 0.0, 1e-3, 0.1)


# -- drawing ---------------------------------------------------------------------------------
def draw_dt(data: DataObject, sig: OracleSignal, hist: History, t: float) -> float:
    """0.5-20 s, often aimed at the instant a link's min green / yellow / clearance runs out."""
    kind = data.draw(st.integers(0, 9), label="dt kind")
    if kind <= 2:
        return data.draw(st.sampled_from(PLAIN_DT_S), label="dt")
    if kind <= 4:
        return data.draw(st.floats(0.5, 20.0, allow_nan=False), label="dt")
    i = data.draw(st.integers(0, sig.n - 1), label="aim at link")
    a = aspect_of(hist.state[i])
    limit = {"green": sig.min_green_s[i], "yellow": sig.yellow_s[i], "red": sig.clearance_s[i]}.get(
        a, 1.0
    )
    off = data.draw(st.sampled_from(LIMIT_OFFSETS_S), label="offset to limit")
    dt = hist.since_s[i] + limit + off - t
    return dt if 0.05 <= dt <= 20.0 else data.draw(st.sampled_from((0.5, 1.0)), label="dt")


def progress(rnd: random.Random, cur: str, sig: OracleSignal) -> str:
    """Move a random subset of links one aspect on: green -> yellow (red at a crossing),
    yellow -> red, red -> G or g."""
    s = list(cur)
    p = rnd.choice((0.1, 0.3, 0.6, 1.0))
    for i, c in enumerate(cur):
        if p < 1.0 and rnd.random() >= p:
            continue
        if c in GREEN:
            s[i] = "y" if sig.yellow_s[i] > 0 else "r"
        elif c == "y":
            s[i] = "r"
        elif c in "ru":
            s[i] = rnd.choice("GGgs")
    return "".join(s)


def draw_state(
    data: DataObject, cur: str, phases: list[str], sig: OracleSignal, toward: Callable[[str], str]
) -> str:
    """A proposed state: mostly a plausible change of ``cur``, sometimes garbage.

    ``toward(target)`` is what step_toward would show next on the way to ``target``: a good
    source of commands right at the edge of what the rules allow (and, perturbed, just beyond).
    """
    n = len(cur)
    kind = data.draw(st.integers(0, 19), label="state kind")
    rnd = data.draw(st.randoms(use_true_random=True), label="rnd")
    if kind == 0:
        return cur
    if kind <= 3:  # point mutations, mostly valid characters
        s = list(cur)
        for _ in range(rnd.randint(1, 3)):
            s[rnd.randrange(n)] = rnd.choice(VALID) if rnd.random() < 0.9 else rnd.choice(INVALID)
        return "".join(s)
    if kind <= 5:
        return progress(rnd, cur, sig)
    if kind <= 7:  # one link one aspect on
        i = rnd.randrange(n)
        return cur[:i] + progress(random.Random(0), cur[i], _one(sig, i)) + cur[i + 1 :]
    if kind <= 9:
        return rnd.choice(phases)
    if kind <= 11:  # part current, part some program phase
        ph = rnd.choice(phases)
        p = rnd.random()
        return "".join(b if rnd.random() < p else a for a, b in zip(cur, ph, strict=True))
    if kind <= 15:
        return toward(make_target(rnd, phases))
    if kind == 16:  # step_toward's proposal with one link changed
        s = list(toward(make_target(rnd, phases)))
        s[rnd.randrange(n)] = rnd.choice(VALID)
        return "".join(s)
    if kind == 17:
        return "r" * n
    if kind == 18:
        return progress(rnd, progress(rnd, cur, sig), sig)
    # malformed: wrong length or an unknown character
    choice = rnd.randrange(3)
    if choice == 0:
        return cur[:-1]
    if choice == 1:
        return cur + "r"
    i = rnd.randrange(n)
    return cur[:i] + rnd.choice(INVALID) + cur[i + 1 :]


def _one(sig: OracleSignal, i: int) -> OracleSignal:
    """``sig`` seen from link i alone (for :func:`progress` on one character)."""
    return replace(sig, yellow_s=(sig.yellow_s[i],))


def make_target(rnd: random.Random, phases: list[str], *, no_yellow: bool = False) -> str:
    """A target built from a program phase: some greens dropped to red, some G made g."""
    s = list(rnd.choice(phases))
    for i, c in enumerate(s):
        x = rnd.random()
        if c in GREEN and x < 0.15:
            s[i] = "r"
        elif c == "G" and x < 0.3:
            s[i] = "g"
        elif c == "y" and (no_yellow or x < 0.5):
            s[i] = "r"
    return "".join(s)


def explain(
    case: NetCase, sid: str, hist: History, cmd: SignalCommand, reasons: object, codes: object
) -> str:
    return (
        f"{case.name} signal {sid!r}\n  shown   {hist.state!r} at {hist.time_s}\n"
        f"  since   {hist.since_s}\n  lastG   {hist.last_green!r}\n"
        f"  command {cmd.state!r} at {cmd.time_s} (signal {cmd.signal_id!r})\n"
        f"  guard   {reasons}\n  oracle  {codes}"
    )


# -- properties ------------------------------------------------------------------------------
def check_step_toward(
    case: NetCase, sid: str, timers: SignalTimers, hist: History, target: str, t: float
) -> str:
    """step_toward's next state must pass both the guard and the oracle."""
    sig = case.oracles[sid]
    assert not sig.r1_pairs(target), f"test bug: target {target!r} has conflicting greens"
    nxt = step_toward(case.models[sid], timers, target, t)
    cmd = SignalCommand(sid, nxt, t, source="step_toward")
    verdict = case.guard.check(cmd, timers)
    codes = judge(sig, hist, nxt, t, max_age_s=case.guard.max_state_age_s)
    info = explain(case, sid, hist, cmd, verdict.reasons, codes) + f"\n  target  {target!r}"
    assert verdict.ok, "guard rejected a step_toward result\n" + info
    assert not codes, "oracle finds a step_toward result unsafe\n" + info
    return nxt


@PROPERTY_SETTINGS
@given(data=st.data())
def test_guard_agrees_with_oracle_on_random_sequences(net_case: NetCase, data: DataObject) -> None:
    case = net_case
    sid = data.draw(st.sampled_from(case.signal_ids), label="signal")
    sig, model = case.oracles[sid], case.models[sid]
    phases = case.phase_states(sid)
    s0 = data.draw(st.sampled_from(phases), label="start state")
    t = data.draw(st.sampled_from((0.0, 100.0, 12345.678)), label="t0")
    timers = SignalTimers.start(sid, s0, t)
    hist = History.start(s0, t)
    shown = s0
    max_age = case.guard.max_state_age_s
    for _ in range(data.draw(st.integers(1, 25), label="steps")):
        t += draw_dt(data, sig, hist, t)

        # step_toward from the current history (fresh observation) toward a phase-built target
        fresh_t, fresh_h = timers.observe(shown, t), hist.observe(shown, t)
        target = make_target(
            data.draw(st.randoms(use_true_random=True), label="target rnd"), phases
        )
        check_step_toward(case, sid, fresh_t, fresh_h, target, t)

        # what the adapter reports before the command: now, a little earlier, not at all, later
        step = data.draw(st.randoms(use_true_random=True), label="step rnd")
        obs = step.choices(("now", "lag", "none", "future"), weights=(75, 12, 7, 6))[0]
        if obs != "none":
            lag = {"now": 0.0, "lag": step.choice((0.5, 1.0, 2.0, 2.5)), "future": -0.5}[obs]
            t_obs = max(timers.time_s, t - lag)
            timers, hist = timers.observe(shown, t_obs), hist.observe(shown, t_obs)

        state = draw_state(data, shown, phases, sig, partial(step_toward, model, fresh_t, now_s=t))
        cmd_sid, cmd_t, cmd_timers = sid, t, timers
        odd = step.random()
        if odd < 0.01:
            cmd_sid = sid + "-unknown"
        elif odd < 0.02:
            cmd_t = step.choice((math.nan, math.inf, -math.inf))
        elif odd < 0.03:
            cmd_timers = None
        # a target it leads to (field controllers): none, a phase, or two phases mixed
        # link by link (foes green together, often)
        then = None
        kind = step.random()
        if kind < 0.25:
            then = step.choice(phases)
        elif kind < 0.4:
            a, b = step.choice(phases), step.choice(phases)
            then = "".join(step.choice(pair) for pair in zip(a, b, strict=True))
        cmd = SignalCommand(
            cmd_sid, state, cmd_t, source="property", emergency=step.random() < 0.5, then=then
        )
        verdict = case.guard.check(cmd, cmd_timers)
        codes = judge(
            case.oracles.get(cmd_sid),
            hist if cmd_timers is not None else None,
            state,
            cmd_t,
            max_age_s=max_age,
            then=then,
        )
        info = explain(case, sid, hist, cmd, verdict.reasons, codes)
        event("verdict " + (",".join(sorted(codes)) or "approved"))
        if codes:
            assert not verdict.ok, "guard APPROVED a command the oracle finds unsafe\n" + info
        else:
            assert verdict.ok, "guard rejected a command the oracle finds safe\n" + info
        assert codes_of(verdict.reasons) == codes, "guard and oracle name different rules\n" + info

        # R4: the emergency flag changes nothing
        flipped = SignalCommand(
            cmd_sid, state, cmd_t, source="property", emergency=not cmd.emergency, then=then
        )
        v2 = case.guard.check(flipped, cmd_timers)
        assert (v2.ok, v2.reasons) == (verdict.ok, verdict.reasons), info

        if verdict.ok:  # the adapter shows it
            shown = state
            timers, hist = timers.observe(state, t), hist.observe(state, t)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_step_toward_is_always_approved_and_reaches_its_target(
    net_case: NetCase, data: DataObject
) -> None:
    """Drive a signal with step_toward alone: every step passes guard and oracle, the target is
    reached within the longest min green + yellow + clearance (plus ticks), then held."""
    case = net_case
    sid = data.draw(st.sampled_from(case.signal_ids), label="signal")
    sig = case.oracles[sid]
    phases = case.phase_states(sid)
    rnd = data.draw(st.randoms(use_true_random=True), label="rnd")
    tick = data.draw(st.sampled_from((0.1, 0.5, 1.0, 2.0)), label="tick")
    s0 = rnd.choice(phases)
    t = data.draw(st.sampled_from((0.0, 50.0)), label="t0")
    timers, hist = SignalTimers.start(sid, s0, t), History.start(s0, t)
    for _ in range(data.draw(st.integers(1, 3), label="targets")):
        target = make_target(rnd, phases, no_yellow=True)
        bound = max(sig.min_green_s) + max(sig.yellow_s) + max(sig.clearance_s) + 3 * tick + 1.0
        start = t
        while timers.state != target:
            t += tick
            assert t - start <= bound, (
                f"{case.name} {sid!r}: step_toward did not reach {target!r} from {s0!r} within "
                f"{bound:.1f} s; stuck at {timers.state!r}"
            )
            timers, hist = timers.observe(timers.state, t), hist.observe(hist.state, t)
            nxt = check_step_toward(case, sid, timers, hist, target, t)
            timers, hist = timers.observe(nxt, t), hist.observe(nxt, t)
        # once there, it stays there
        t += tick
        timers, hist = timers.observe(timers.state, t), hist.observe(hist.state, t)
        assert check_step_toward(case, sid, timers, hist, target, t) == target


@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_plan_answers_as_step_toward_and_the_same_until_its_wake_time(
    net_case: NetCase, data: DataObject
) -> None:
    """Controllers keep a transition plan per (state, target) and skip asking before its
    plan_wake_s: following the plan must give step_toward's answer, and the same answer at
    every instant between now and the wake time (a wake time set too late shows up as a
    change at one of the instants drawn before it)."""
    case = net_case
    sid = data.draw(st.sampled_from(case.signal_ids), label="signal")
    model = case.models[sid]
    phases = case.phase_states(sid)
    rnd = data.draw(st.randoms(use_true_random=True), label="rnd")
    t = 0.0
    timers = SignalTimers.start(sid, rnd.choice(phases), t)
    for _ in range(data.draw(st.integers(1, 12), label="steps")):
        target = make_target(rnd, phases, no_yellow=True)
        plan = plan_transition(model, timers.state, target)
        wake = plan_wake_s(plan, timers, t)
        assert wake > t
        now_answer = follow(plan, model, timers, t)
        assert now_answer == step_toward(model, timers, target, t)
        horizon = min(wake, t + 200.0)
        for s in (t, (t + horizon) / 2, horizon - 1e-4, rnd.uniform(t, horizon)):
            if t <= s < wake:
                assert step_toward(model, timers, target, s) == now_answer, (
                    f"{case.name} {sid!r}: answer changed at {s} s before plan_wake_s {wake} s"
                )
        dt = data.draw(st.sampled_from((0.5, 1.0, 2.0, 3.0, 5.0)), label="dt")
        t += dt
        timers = timers.observe(timers.state, t)
        timers = timers.observe(step_toward(model, timers, target, t), t)
