"""The safety rules of DESIGN.md §3, as pure functions returning the reasons a command breaks them.

Each function returns a list of human-readable reasons (empty when the rule holds). Every
reason starts with the rule's code so the audit log can be filtered by rule:

* ``R1-conflict``   two conflicting links green at once;
* ``R2-min-green``  a green ended before its minimum green;
* ``R2-yellow``     a yellow cut short, green straight to red, or red/yellow straight to a state
  that skips its clearance;
* ``R3-clearance``  a link turning green before every conflicting link has been red for its
  red clearance (all-red) or pedestrian clearance;
* ``R5-malformed``  anything unknown, stale or malformed (fail closed).

Rule 4 (clearance never shortened, not even for emergencies) holds because nothing here reads
``SignalCommand.emergency``.
"""

from __future__ import annotations

import math

from clearway.signals.model import (
    ALL_CHARS,
    ASPECT_OF,
    GREEN_CHARS,
    OFF_CHARS,
    PERMISSIVE_CHARS,
    TIME_EPS_S,
    Intersection,
)
from clearway.signals.safety.commands import SignalCommand
from clearway.signals.timers import SignalTimers


def malformed(
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


def conflicting_greens(model: Intersection, cmd: SignalCommand) -> list[str]:
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


def transitions(model: Intersection, timers: SignalTimers, cmd: SignalCommand) -> list[str]:
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


def turning_on(timers: SignalTimers, cmd: SignalCommand) -> list[int]:
    """Links that start a green, or gain protection (``g``/``s`` -> ``G``), with this command."""
    out = []
    for i, (old, new) in enumerate(zip(timers.state, cmd.state, strict=True)):
        if new in GREEN_CHARS and (
            old not in GREEN_CHARS or (new == "G" and old in PERMISSIVE_CHARS)
        ):
            out.append(i)
    return out


def clearance(model: Intersection, timers: SignalTimers, cmd: SignalCommand) -> list[str]:
    """R3: a link turns green only after every conflicting link has cleared."""
    reasons = []
    t = cmd.time_s
    for i in turning_on(timers, cmd):
        for j in model.blockers_of(i, cmd.state[i]):  # other foes never hold i back
            if cmd.state[j] in GREEN_CHARS:
                # R1 judges the pair as shown; a foe that was protected a moment ago still
                # has vehicles to clear (its "yellow arrow" interval).
                if not protection_cleared(model, timers, i, cmd.state[i], j, cmd.state[j], t):
                    reasons.append(_protection_reason(model, timers, i, j))
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


def protection_cleared(
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


def _protection_reason(model: Intersection, timers: SignalTimers, i: int, j: int) -> str:
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
