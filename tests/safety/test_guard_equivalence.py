"""Equivalence: the guard's table-driven rules give the very verdicts and reasons of the
implementation they replaced, on random commands against random histories of real junctions.

The reference below is the guard's rules as they were before the per-pair tables (copied
verbatim from ``clearway/signals/safety/rules.py`` and ``guard.py`` at commit 4b9dbb5). Both
judge the same (command, timers): mostly commands near what the signal shows and near the
moments its intervals run out, sometimes malformed ones, sometimes corrupted timers (short
per-link tuples, unknown characters) on which judging raises inside the rules.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

from clearway.signals.model import (
    ALL_CHARS,
    ASPECT_OF,
    GREEN_CHARS,
    OFF_CHARS,
    PERMISSIVE_CHARS,
    TIME_EPS_S,
    Intersection,
)
from clearway.signals.safety import SafetyGuard, SignalCommand
from clearway.signals.timers import SignalTimers

from .conftest import NetCase

pytestmark = pytest.mark.sumo

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VALID = "GGGgggsyyyYrrrrruoO"
LIMIT_OFFSETS_S = (-0.1, -1e-3, -1e-6, 0.0, 1e-6, 1e-3, 0.1)


# -- the reference: the rules before the per-pair tables (verbatim) -------------------------
def ref_malformed(
    model: Intersection, timers: SignalTimers | None, cmd: SignalCommand, max_state_age_s: float
) -> list[str]:
    """R5: the command or the state it is judged against cannot be trusted."""
    n = model.link_count
    if not isinstance(cmd.state, str) or len(cmd.state) != n:
        got = len(cmd.state) if isinstance(cmd.state, str) else type(cmd.state).__name__
        return [f"R5-malformed: state must have {n} characters for {model.signal_id!r}, got {got}"]
    if not ALL_CHARS.issuperset(cmd.state):
        bad = sorted({c for c in cmd.state if c not in ALL_CHARS})
        return [f"R5-malformed: unknown state characters {''.join(bad)!r} (allowed: GgsyYurOo)"]
    if cmd.then is not None and (
        not isinstance(cmd.then, str) or len(cmd.then) != n or not ALL_CHARS.issuperset(cmd.then)
    ):
        return [f"R5-malformed: target state 'then' must be {n} characters of GgsyYurOo for {model.signal_id!r}, got {cmd.then!r}"]
    if not isinstance(cmd.time_s, int | float) or not math.isfinite(cmd.time_s):
        return [f"R5-malformed: command time {cmd.time_s!r} is not a finite number of seconds"]
    if timers is None:
        return [f"R5-malformed: no observed state for {model.signal_id!r}; cannot judge"]
    if timers.signal_id != model.signal_id or len(timers.state) != n:
        return [f"R5-malformed: observed state belongs to {timers.signal_id!r}, not {model.signal_id!r}"]
    age = cmd.time_s - timers.time_s
    if age < -TIME_EPS_S:
        return [f"R5-malformed: command time {cmd.time_s} s is before the observed state ({timers.time_s} s)"]
    if age > max_state_age_s + TIME_EPS_S:
        return [f"R5-malformed: observed state is stale ({age:.1f} s old, limit {max_state_age_s} s)"]
    reasons = []
    for name, state in (("state", cmd.state), ("then", cmd.then)):
        if state is None or (not model.fixed_off and OFF_CHARS.isdisjoint(state)):
            continue  # the usual case: nothing off, nothing that must be
        for i, c in enumerate(state):
            if (c in OFF_CHARS) != (i in model.fixed_off):
                where = "" if name == "state" else " in target 'then'"
                reasons.append(f"R5-malformed: link {i} may not be switched {'off' if c in OFF_CHARS else 'on'}{where}")
    return reasons


def ref_conflicting_greens(model: Intersection, cmd: SignalCommand) -> list[str]:
    """R1: no two conflicting links green at once (in the state, and in the target ``then``)."""
    out = [
        f"R1-conflict: links {i} ({cmd.state[i]}) and {j} ({cmd.state[j]}) conflict and may not be green together"
        for i, j in model.conflicting_greens(cmd.state)
    ]
    if cmd.then is not None:
        out += [
            f"R1-conflict: target 'then' has links {i} ({cmd.then[i]}) and {j} ({cmd.then[j]}) green together, which conflict"
            for i, j in model.conflicting_greens(cmd.then)
        ]
    return out


def ref_transitions(model: Intersection, timers: SignalTimers, cmd: SignalCommand) -> list[str]:
    """R2: min green, yellow never cut short, no aspect skipped."""
    reasons = []
    t = cmd.time_s
    for i, (old, new) in enumerate(zip(timers.state, cmd.state, strict=True)):
        if old == new:
            continue
        a_old, a_new = ASPECT_OF[old], ASPECT_OF[new]  # both checked by R5 first
        if a_old == a_new:
            continue
        timing = model.timings[i]
        held = timers.elapsed_s(i, t)
        if a_old == "green":
            if held + TIME_EPS_S < timing.min_green_s:
                reasons.append(
                    f"R2-min-green: link {i} green for {held:.1f} s, minimum {timing.min_green_s:.1f} s"
                )
            if a_new == "red" and timing.yellow_s > 0:
                reasons.append(f"R2-yellow: link {i} may not go from green to red without yellow")
        elif a_old == "yellow":
            if a_new == "green":
                reasons.append(f"R2-yellow: link {i} may not go from yellow back to green")
            elif held + TIME_EPS_S < timing.yellow_s:
                reasons.append(
                    f"R2-yellow: link {i} yellow for {held:.1f} s, minimum {timing.yellow_s:.1f} s"
                )
        elif a_old == "red" and a_new == "yellow":
            reasons.append(f"R2-yellow: link {i} may not go from red to yellow")
        elif a_new == "off" or a_old == "off":
            reasons.append(f"R5-malformed: link {i} may not switch between off and {a_new}")
    return reasons


def ref_turning_on(timers: SignalTimers, cmd: SignalCommand) -> list[int]:
    """Links that start a green, or gain protection (``g``/``s`` -> ``G``), with this command."""
    out = []
    for i, (old, new) in enumerate(zip(timers.state, cmd.state, strict=True)):
        if new in GREEN_CHARS and (
            old not in GREEN_CHARS or (new == "G" and old in PERMISSIVE_CHARS)
        ):
            out.append(i)
    return out


def ref_clearance(model: Intersection, timers: SignalTimers, cmd: SignalCommand) -> list[str]:
    """R3: a link turns green only after every conflicting link has cleared."""
    reasons = []
    t = cmd.time_s
    for i in ref_turning_on(timers, cmd):
        for j in model.blockers_of(i, cmd.state[i]):  # other foes never hold i back
            if cmd.state[j] in GREEN_CHARS:
                # R1 judges the pair as shown; a foe that was protected a moment ago still
                # has vehicles to clear (its "yellow arrow" interval).
                if not ref_protection_cleared(model, timers, i, cmd.state[i], j, cmd.state[j], t):
                    reasons.append(ref__protection_reason(model, timers, i, j))
                continue
            last_j = timers.last_green[j]
            if last_j != "G" and model.compatible(i, cmd.state[i], j, last_j):
                continue  # i yields to whatever is still leaving j (never to a protected j)
            old_j = ASPECT_OF[timers.state[j]]
            if old_j in ("green", "yellow"):
                reasons.append(f"R3-clearance: link {i} may not turn green while conflicting link {j} is {old_j}")
                continue
            red_for = timers.elapsed_s(j, t)
            need = model.timings[j].clearance_s
            if old_j == "red" and red_for + TIME_EPS_S < need:
                reasons.append(
                    f"R3-clearance: link {i} may not turn green: conflicting link {j} red for "
                    f"{red_for:.1f} s, clearance {need:.1f} s"
                )
    return reasons


def ref_protection_cleared(
    model: Intersection, timers: SignalTimers, i: int, c_i: str, j: int, c_j: str, t: float
) -> bool:
    """Whether green foe ``j`` (now ``c_j``) has cleared any protected green it showed, so
    that ``i`` may show ``c_i``: a ``G`` dropped to ``g`` counts as ended only after
    ``yellow_s + clearance_s`` of ``j``."""
    if c_j == "G" or model.compatible(i, c_i, j, "G"):
        return True  # still protected (R1 decides) or never in i's way when protected
    if timers.state[j] == "G":
        return False  # dropping protection at this very moment
    need = model.timings[j].yellow_s + model.timings[j].clearance_s
    return t - timers.unprotected_since_s[j] + TIME_EPS_S >= need


def ref__protection_reason(model: Intersection, timers: SignalTimers, i: int, j: int) -> str:
    when = (
        "drops its protected green now"
        if timers.state[j] == "G"
        else f"dropped its protected green at {timers.unprotected_since_s[j]:.1f} s"
    )
    need = model.timings[j].yellow_s + model.timings[j].clearance_s
    return (
        f"R3-clearance: link {i} may not turn green: conflicting link {j} {when} and needs "
        f"{need:.1f} s to clear it"
    )


def ref_reasons(models: dict[str, Intersection], command, timers, max_state_age_s: float) -> tuple[str, ...]:
    """``SafetyGuard.check``'s reasons before the tables (verbatim but for the names)."""
    try:
        if not isinstance(command, SignalCommand):
            return (f"R5-malformed: expected a SignalCommand, got {type(command).__name__}",)
        model = models.get(command.signal_id)
        if model is None:
            return (f"R5-malformed: unknown signal {command.signal_id!r}",)
        reasons = ref_malformed(model, timers, command, max_state_age_s)
        if reasons:
            return tuple(reasons)
        assert timers is not None
        return tuple(
            ref_conflicting_greens(model, command)
            + ref_transitions(model, timers, command)
            + ref_clearance(model, timers, command)
        )
    except Exception as exc:
        return (f"R5-malformed: could not be judged ({type(exc).__name__}: {exc})",)


# -- drawing ---------------------------------------------------------------------------------
def near_limit_dt(rnd: random.Random, model: Intersection, timers: SignalTimers, t: float) -> float:
    """A step of time, often to the instant one of the links' intervals runs out."""
    if rnd.random() < 0.3:
        return rnd.choice((0.5, 1.0, 2.0, 5.0, 20.0))
    i = rnd.randrange(model.link_count)
    timing = model.timings[i]
    limit = rnd.choice((timing.min_green_s, timing.yellow_s, timing.clearance_s,
                        timing.yellow_s + timing.clearance_s))  # fmt: skip
    due = timers.since_s[i] + limit + rnd.choice(LIMIT_OFFSETS_S)
    return max(due - t, 0.0)


def mutate(rnd: random.Random, state: str, phases: list[str]) -> str:
    """A state near ``state``: a phase, or ``state`` with a few links changed."""
    if rnd.random() < 0.3:
        return rnd.choice(phases)
    chars = list(state)
    for _ in range(rnd.randint(1, 3)):
        chars[rnd.randrange(len(chars))] = rnd.choice(VALID)
    return "".join(chars)


def malformed_command(rnd: random.Random, sid: str, state: str, t: float) -> SignalCommand:
    kind = rnd.randrange(5)
    if kind == 0:
        return SignalCommand(sid, state + "r", t)
    if kind == 1:
        return SignalCommand(sid, "Z" + state[1:], t)
    if kind == 2:
        return SignalCommand(sid, state, rnd.choice((math.nan, math.inf, t - 1.0, t + 5.0)))
    if kind == 3:
        return SignalCommand(sid, state, t, then=rnd.choice((state[:-1], "x" * len(state))))
    return SignalCommand(sid + "?", state, t)


def corrupted(rnd: random.Random, timers: SignalTimers) -> SignalTimers:
    n = len(timers.state)
    kind = rnd.randrange(3)
    if kind == 0:
        return SignalTimers(timers.signal_id, timers.state, timers.time_s, timers.since_s[: n // 2],
                            timers.last_green, timers.unprotected_since_s)  # fmt: skip
    if kind == 1:
        return SignalTimers(timers.signal_id, timers.state, timers.time_s, timers.since_s,
                            timers.last_green[: n // 2], timers.unprotected_since_s[: n // 2])  # fmt: skip
    k = rnd.randrange(n)
    state = timers.state[:k] + rnd.choice("Zx-") + timers.state[k + 1 :]
    return SignalTimers(timers.signal_id, state, timers.time_s, timers.since_s[: n - 1],
                        timers.last_green, timers.unprotected_since_s)  # fmt: skip


@SETTINGS
@given(data=st.data())
def test_the_tables_judge_exactly_as_the_rules_they_replaced(net_case: NetCase, data: DataObject) -> None:
    rnd = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    sid = rnd.choice(net_case.signal_ids)
    model = net_case.models[sid]
    phases = net_case.phase_states(sid) or ["r" * model.link_count]
    # The session's guard keeps its tables from earlier examples (hits), a new one starts empty.
    guard = net_case.guard if rnd.random() < 0.7 else SafetyGuard(net_case.models)
    t = rnd.uniform(0.0, 100.0)
    timers = SignalTimers.start(sid, rnd.choice(phases), t)
    judged = approved = 0
    for _ in range(40):
        t += near_limit_dt(rnd, model, timers, t)
        timers = timers.observe(timers.state, t)
        roll = rnd.random()
        if roll < 0.08:
            cmd = malformed_command(rnd, sid, timers.state, t)
        else:
            state = mutate(rnd, timers.state, phases)
            then = mutate(rnd, state, phases) if rnd.random() < 0.2 else None
            cmd = SignalCommand(sid, state, t + rnd.choice((0.0, 0.0, 0.5)), then=then)
        seen = corrupted(rnd, timers) if roll > 0.96 else None if roll > 0.95 else timers
        new = guard.check(cmd, seen)
        old = ref_reasons(net_case.models, cmd, seen, guard.max_state_age_s)
        assert new.reasons == old, (cmd, seen)
        assert new.ok == (not old)
        judged += 1
        if new.ok:
            approved += 1
            timers = timers.observe(cmd.state, t)
        elif rnd.random() < 0.3 and ALL_CHARS.issuperset(cmd.state) and len(cmd.state) == model.link_count:
            timers = timers.observe(cmd.state, t)  # shown anyway (a field controller's own move)
    assert judged == 40
