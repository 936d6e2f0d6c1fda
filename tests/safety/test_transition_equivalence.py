"""Equivalence: the transition logic with its per-plan foe tables answers exactly as the
version it replaced, and its tighter wake time is never early for nothing nor late.

The reference is ``clearway/signals/transition.py`` at commit 4b9dbb5 (``plan_transition``,
``follow``, ``_may_turn_on``, ``plan_wake_s``), copied below with the old rules'
``protection_cleared``. On random histories and targets of the real nets' signals:

* ``follow`` gives the reference's state;
* ``plan_wake_s`` is never before the reference's (which was a lower bound), the reference's
  answer is the same at every instant drawn before it, and different just after it (the wake
  is a real threshold, not an early one);
* ``follow_or_wake`` is ``follow`` with ``plan_wake_s``.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

from clearway.signals.model import (
    ASPECT_OF,
    GREEN_CHARS,
    PERMISSIVE_CHARS,
    TIME_EPS_S,
    YELLOW_CHARS,
    Intersection,
)
from clearway.signals.timers import SignalTimers
from clearway.signals.transition import follow, follow_or_wake, plan_transition, plan_wake_s

from .conftest import NetCase

pytestmark = pytest.mark.sumo

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- the reference (verbatim but for the names) ----------------------------------------------
def ref_protection_cleared(
    model: Intersection, timers: SignalTimers, i: int, c_i: str, j: int, c_j: str, t: float
) -> bool:
    if c_j == "G" or model.compatible(i, c_i, j, "G"):
        return True
    if timers.state[j] == "G":
        return False
    need = model.timings[j].yellow_s + model.timings[j].clearance_s
    return t - timers.unprotected_since_s[j] + TIME_EPS_S >= need


def ref_plan_transition(model: Intersection, state: str, target: str) -> tuple:
    """The plan of every step from ``state`` toward ``target`` (both the same length)."""
    fixed: list[tuple[int, str]] = []
    timed: list[tuple[int, float, str]] = []
    wants_on: list[tuple[int, str]] = []
    for i, (c, d) in enumerate(zip(state, target, strict=True)):
        if c == d or i in model.fixed_off:
            continue  # already there (or never driven): shown as it is
        a_c = ASPECT_OF[c]
        t = model.timings[i]
        if a_c == "green":
            if d in GREEN_CHARS:
                if d == "G" and c in PERMISSIVE_CHARS:
                    wants_on.append((i, d))  # gaining protection needs the foes cleared
                else:
                    fixed.append((i, d))
            else:
                end = d if d in YELLOW_CHARS else ("y" if t.yellow_s > 0 else "r")
                timed.append((i, t.min_green_s, end))
        elif a_c == "yellow":
            if d in YELLOW_CHARS:
                fixed.append((i, d))
            else:
                timed.append((i, t.yellow_s, d if ASPECT_OF[d] == "red" else "r"))
        elif a_c == "red":
            if d in GREEN_CHARS:
                wants_on.append((i, d))
            elif ASPECT_OF[d] == "red":
                fixed.append((i, d))
    # The foes those greens wait for, once each, with the clearances counted from them.
    foes = dict.fromkeys(j for i, c in wants_on for j in model.blockers_of(i, c))
    watch = tuple(
        (j, model.timings[j].clearance_s, model.timings[j].yellow_s + model.timings[j].clearance_s)
        for j in foes
    )
    return (state, target, tuple(fixed), tuple(timed), tuple(wants_on), watch)


def ref_follow(plan: tuple, model: Intersection, timers: SignalTimers, now_s: float) -> str:
    state, _, fixed, timed, wants_on, _ = plan
    nxt = list(state)
    for i, c in fixed:
        nxt[i] = c
    since = timers.since_s
    for i, need_s, c in timed:
        if now_s - since[i] + TIME_EPS_S >= need_s:
            nxt[i] = c
    for i, c in wants_on:
        if ref_may_turn_on(model, timers, nxt, i, c, now_s):
            nxt[i] = c
    return "".join(nxt)


def ref_plan_wake_s(plan: tuple, timers: SignalTimers, now_s: float) -> float:
    _, _, _, timed, _, watch = plan
    wake = float("inf")
    since = timers.since_s
    for i, need_s, _ in timed:
        due = since[i] + need_s - TIME_EPS_S
        if now_s < due < wake:
            wake = due
    unprotected = timers.unprotected_since_s
    for j, clearance_s, protected_s in watch:
        for due in (since[j] + clearance_s, unprotected[j] + protected_s):
            due -= TIME_EPS_S
            if now_s < due < wake:
                wake = due
    return wake


def ref_may_turn_on(
    model: Intersection, timers: SignalTimers, nxt: list[str], i: int, c: str, now_s: float
) -> bool:
    last_green = timers.last_green
    for j in model.blockers_of(i, c):
        c_j = nxt[j]
        if c_j in GREEN_CHARS:
            if c_j == "G" or not model.compatible(i, c, j, c_j):
                return False
            if not ref_protection_cleared(model, timers, i, c, j, c_j, now_s):
                return False
            continue
        if last_green[j] != "G" and model.compatible(i, c, j, last_green[j]):
            continue
        if ASPECT_OF[timers.state[j]] != "red":
            return False
        if now_s - timers.since_s[j] + TIME_EPS_S < model.timings[j].clearance_s:
            return False
    return True


# -- drawing ---------------------------------------------------------------------------------
def random_target(rnd: random.Random, phases: list[str], n: int) -> str:
    if rnd.random() < 0.6:
        return rnd.choice(phases)
    base = list(rnd.choice(phases))
    for _ in range(rnd.randint(1, 3)):
        base[rnd.randrange(n)] = rnd.choice("GgsrrryY")
    return "".join(base)


def near_threshold_dt(rnd: random.Random, model: Intersection, timers: SignalTimers, t: float) -> float:
    if rnd.random() < 0.4:
        return rnd.choice((0.5, 1.0, 2.0, 3.0, 5.0))
    i = rnd.randrange(model.link_count)
    tm = model.timings[i]
    limit = rnd.choice((tm.min_green_s, tm.yellow_s, tm.clearance_s, tm.yellow_s + tm.clearance_s))
    return max(timers.since_s[i] + limit + rnd.choice((-0.1, -1e-3, 0.0, 1e-3)) - t, 0.0)


@SETTINGS
@given(data=st.data())
def test_follow_and_its_wake_answer_as_the_version_they_replaced(net_case: NetCase, data: DataObject) -> None:
    rnd = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    sid = rnd.choice(net_case.signal_ids)
    model = net_case.models[sid]
    n = model.link_count
    phases = net_case.phase_states(sid) or ["r" * n]
    t = 0.0
    timers = SignalTimers.start(sid, rnd.choice(phases), t)
    target = random_target(rnd, phases, n)
    for _ in range(30):
        if rnd.random() < 0.2:
            target = random_target(rnd, phases, n)
        plan, ref = plan_transition(model, timers.state, target), ref_plan_transition(model, timers.state, target)
        answer = ref_follow(ref, model, timers, t)
        assert follow(plan, model, timers, t) == answer
        wake, ref_wake = plan_wake_s(plan, timers, t), ref_plan_wake_s(ref, timers, t)
        assert wake >= ref_wake
        assert follow_or_wake(plan, timers, t) == (
            (answer, float("inf")) if answer != timers.state else (None, wake)
        )
        horizon = min(wake, t + 300.0)
        for s in (ref_wake, (t + horizon) / 2, horizon - 1e-4, rnd.uniform(t, horizon)):
            if t <= s < wake:
                assert ref_follow(ref, model, timers, s) == answer, (sid, s, wake)
        if wake < float("inf"):
            assert ref_follow(ref, model, timers, wake + 1e-7) != answer, (sid, wake)
        t += near_threshold_dt(rnd, model, timers, t)
        timers = timers.observe(timers.state, t)
        if rnd.random() < 0.7:
            timers = timers.observe(answer if rnd.random() < 0.5 else ref_follow(ref, model, timers, t), t)


# -- the one-pass foe tests of _follow_and_wake against the two helpers it inlined ----------
def prior_follow_and_wake(plan, timers: SignalTimers, now_s: float) -> tuple[list[str], float]:
    """``_follow_and_wake`` before its foe tests were inlined (verbatim but for the name)."""
    from clearway.signals.transition import _foes_cleared, _foes_cleared_s

    nxt = list(plan.state)
    for i, c in plan.fixed:
        nxt[i] = c
    wake = float("inf")
    since = timers.since_s
    for i, need_s, c in plan.timed:
        if now_s - since[i] + TIME_EPS_S >= need_s:
            nxt[i] = c
        else:
            due = since[i] + need_s - TIME_EPS_S
            if now_s < due < wake:
                wake = due
    for i, c, tests in plan.turn_on:
        if _foes_cleared(tests, timers, nxt, now_s):
            nxt[i] = c
        else:
            due = _foes_cleared_s(tests, timers, nxt, now_s)
            if now_s < due < wake:
                wake = due
    return nxt, wake


@SETTINGS
@given(data=st.data())
def test_one_pass_follow_and_wake_is_the_two_helpers(net_case: NetCase, data: DataObject) -> None:
    from clearway.signals.transition import _follow_and_wake

    rnd = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    sid = rnd.choice(net_case.signal_ids)
    model = net_case.models[sid]
    n = model.link_count
    phases = net_case.phase_states(sid) or ["r" * n]
    t = 0.0
    timers = SignalTimers.start(sid, rnd.choice(phases), t)
    target = random_target(rnd, phases, n)
    for _ in range(30):
        if rnd.random() < 0.2:
            target = random_target(rnd, phases, n)
        plan = plan_transition(model, timers.state, target)
        # At the step's instant, at its thresholds and around them.
        for s in (t, t + rnd.choice(LIMITS_S), t + near_threshold_dt(rnd, model, timers, t)):
            assert _follow_and_wake(plan, timers, s) == prior_follow_and_wake(plan, timers, s)
        t += near_threshold_dt(rnd, model, timers, t)
        timers = timers.observe(timers.state, t)
        if rnd.random() < 0.7:
            timers = timers.observe("".join(prior_follow_and_wake(plan, timers, t)[0]), t)


LIMITS_S = (0.0, 1e-6, 1e-3, 0.5, 1.0, 3.0)


def prior_follow_or_wake(plan, timers: SignalTimers, now_s: float) -> tuple[str | None, float]:
    """``follow_or_wake`` before its short way for steps that change something (verbatim)."""
    nxt, wake_s = prior_follow_and_wake(plan, timers, now_s)
    state = "".join(nxt)
    if state != plan.state:
        return state, float("inf")
    return None, wake_s


@SETTINGS
@given(data=st.data())
def test_follow_or_wake_answers_as_before_its_short_way(net_case: NetCase, data: DataObject) -> None:
    rnd = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    sid = rnd.choice(net_case.signal_ids)
    model = net_case.models[sid]
    n = model.link_count
    phases = net_case.phase_states(sid) or ["r" * n]
    t = 0.0
    timers = SignalTimers.start(sid, rnd.choice(phases), t)
    target = random_target(rnd, phases, n)
    for _ in range(30):
        if rnd.random() < 0.2:
            target = random_target(rnd, phases, n)
        plan = plan_transition(model, timers.state, target)
        for s in (t, t + rnd.choice(LIMITS_S), t + near_threshold_dt(rnd, model, timers, t)):
            assert follow_or_wake(plan, timers, s) == prior_follow_or_wake(plan, timers, s)
        t += near_threshold_dt(rnd, model, timers, t)
        timers = timers.observe(timers.state, t)
        if rnd.random() < 0.7:
            answer = prior_follow_or_wake(plan, timers, t)[0]
            timers = timers.observe(answer or timers.state, t)


def test_follow_or_wake_of_a_plan_whose_fixed_links_do_not_change_is_asked_the_long_way() -> None:
    from clearway.signals.transition import TransitionPlan

    timers = SignalTimers.start("x", "Gr", 0.0)
    plan = TransitionPlan("Gr", "Gr", ((0, "G"),), ((1, 5.0, "G"),), (), ())
    assert follow_or_wake(plan, timers, 1.0) == prior_follow_or_wake(plan, timers, 1.0) == (None, 5.0 - TIME_EPS_S)
