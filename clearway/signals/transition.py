"""Move a signal toward a target state as fast as the safety rules allow.

Controllers say *where* they want a signal to be; :func:`step_toward` says what it may show
*now* on the way there: greens that must end go through yellow once their minimum green is
served, yellows end after their change interval, and a link turns green only once every
conflicting link has cleared. Each result is meant to pass the guard unchanged; the guard
still checks it (defence in depth).
"""

from __future__ import annotations

from clearway.signals.model import (
    ASPECT_OF,
    GREEN_CHARS,
    PERMISSIVE_CHARS,
    TIME_EPS_S,
    YELLOW_CHARS,
    Intersection,
)
from clearway.signals.safety.rules import protection_cleared
from clearway.signals.timers import SignalTimers


def step_toward(model: Intersection, timers: SignalTimers, target: str, now_s: float) -> str:
    """The state to show at ``now_s`` on the way from the observed state to ``target``.

    Parameters
    ----------
    model
        The intersection.
    timers
        Observed history of the signal (its ``state`` is what it shows now).
    target
        Desired state string (same length); it must itself be free of conflicting greens.
    now_s
        Time of the step (s).
    """
    cur = timers.state
    nxt = list(cur)
    wants_on: list[int] = []
    since = timers.since_s
    fixed_off = model.fixed_off
    for i, (c, d) in enumerate(zip(cur, target, strict=True)):
        if c == d or i in fixed_off:
            continue  # already there (or never driven): shown as it is
        a_c = ASPECT_OF[c]
        t = model.timings[i]
        held = now_s - since[i] + TIME_EPS_S
        if a_c == "green":
            if d in GREEN_CHARS:
                if d == "G" and c in PERMISSIVE_CHARS:
                    wants_on.append(i)  # gaining protection needs the foes cleared
                else:
                    nxt[i] = d
            elif held >= t.min_green_s:
                if d in YELLOW_CHARS:
                    nxt[i] = d
                else:
                    nxt[i] = "y" if t.yellow_s > 0 else "r"
        elif a_c == "yellow":
            if d in YELLOW_CHARS:
                nxt[i] = d
            elif held >= t.yellow_s:
                nxt[i] = d if ASPECT_OF[d] == "red" else "r"
        elif a_c == "red":
            if d in GREEN_CHARS:
                wants_on.append(i)
            elif ASPECT_OF[d] == "red":
                nxt[i] = d
    for i in wants_on:
        if _may_turn_on(model, timers, nxt, i, target[i], now_s):
            nxt[i] = target[i]
    return "".join(nxt)


def _may_turn_on(
    model: Intersection, timers: SignalTimers, nxt: list[str], i: int, c: str, now_s: float
) -> bool:
    last_green = timers.last_green
    # A blocker is incompatible with i while protected ("G"): only its permissive greens
    # need the full test.
    for j in model.blockers_of(i, c):
        c_j = nxt[j]
        if c_j in GREEN_CHARS:
            if c_j == "G" or not model.compatible(i, c, j, c_j):
                return False
            if not protection_cleared(model, timers, i, c, j, c_j, now_s):
                return False
            continue
        if last_green[j] != "G" and model.compatible(i, c, j, last_green[j]):
            continue
        if ASPECT_OF[timers.state[j]] != "red":
            return False
        if now_s - timers.since_s[j] + TIME_EPS_S < model.timings[j].clearance_s:
            return False
    return True


def next_change_s(model: Intersection, timers: SignalTimers, now_s: float) -> float:
    """Earliest time after ``now_s`` at which :func:`step_toward` may answer differently (s).

    While the signal shows the same state its timers' start times stay fixed, and
    :func:`step_toward` depends on time only through "held at least this long" tests of
    ``min_green_s``, ``yellow_s``, ``clearance_s`` and ``yellow_s + clearance_s`` counted from
    those start times. Until the next such threshold is crossed it gives the same answer for
    any target, so a controller may skip asking. ``inf`` when no threshold lies ahead.
    """
    wake = float("inf")
    for i, t in enumerate(model.timings):
        since = timers.since_s[i]
        for due in (
            since + t.min_green_s,
            since + t.yellow_s,
            since + t.clearance_s,
            timers.unprotected_since_s[i] + t.yellow_s + t.clearance_s,
        ):
            due -= TIME_EPS_S  # the tests are "held + TIME_EPS_S >= duration"
            if now_s < due < wake:
                wake = due
    return wake


def time_to_reach_s(
    model: Intersection,
    timers: SignalTimers,
    target: str,
    now_s: float,
    *,
    step_s: float = 1.0,
    limit_s: float = 300.0,
) -> float:
    """How long the safety rules need to bring the signal from what it shows to ``target`` (s).

    Steps :func:`step_toward` forward in time (``step_s``) without touching anything; returns
    ``inf`` if ``target`` is not reached within ``limit_s`` (e.g. a target with conflicting
    greens, which no sequence of safe steps reaches).
    """
    t = timers
    elapsed = 0.0
    while t.state != target:
        if elapsed >= limit_s:
            return float("inf")
        nxt = step_toward(model, t, target, now_s + elapsed)
        t = t.observe(nxt, now_s + elapsed)
        if t.state == target:
            break
        elapsed += step_s
        t = t.observe(t.state, now_s + elapsed)
    return elapsed
