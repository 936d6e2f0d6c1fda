"""Move a signal toward a target state as fast as the safety rules allow.

Controllers say *where* they want a signal to be; :func:`step_toward` says what it may show
*now* on the way there: greens that must end go through yellow once their minimum green is
served, yellows end after their change interval, and a link turns green only once every
conflicting link has cleared. Each result is meant to pass the guard unchanged; the guard
still checks it (defence in depth).
"""

from __future__ import annotations

from dataclasses import dataclass

from clearway.signals.model import (
    ASPECT_OF,
    GREEN_CHARS,
    PERMISSIVE_CHARS,
    TIME_EPS_S,
    YELLOW_CHARS,
    Intersection,
)
from clearway.signals.timers import SignalTimers


@dataclass(frozen=True, slots=True)
class TransitionPlan:
    """What :func:`step_toward` does between one state and one target, worked out once.

    Which links change regardless of time (``fixed``), which once they have held their aspect
    long enough (``timed``: link, duration in s, the character then shown) and which want to
    turn green and need their foes cleared (``wants_on``: link, green character); ``watch``
    holds those foes once each (link, ``clearance_s``, ``yellow_s + clearance_s``). A
    controller that keeps a plan per (state, target) pair (:class:`PlanCache`) only re-reads
    the clocks (:func:`follow`, :func:`plan_wake_s`).
    """

    state: str
    target: str
    fixed: tuple[tuple[int, str], ...]
    timed: tuple[tuple[int, float, str], ...]
    wants_on: tuple[tuple[int, str], ...]
    watch: tuple[tuple[int, float, float], ...]


def plan_transition(model: Intersection, state: str, target: str) -> TransitionPlan:
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
    return TransitionPlan(state, target, tuple(fixed), tuple(timed), tuple(wants_on), watch)


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
    return follow(plan_transition(model, timers.state, target), model, timers, now_s)


def follow(plan: TransitionPlan, model: Intersection, timers: SignalTimers, now_s: float) -> str:
    """:func:`step_toward` with its plan (made for ``timers.state`` and the same target)."""
    nxt = list(plan.state)
    for i, c in plan.fixed:
        nxt[i] = c
    since = timers.since_s
    for i, need_s, c in plan.timed:
        if now_s - since[i] + TIME_EPS_S >= need_s:
            nxt[i] = c
    for i, c in plan.wants_on:
        if _may_turn_on(model, timers, nxt, i, c, now_s):
            nxt[i] = c
    return "".join(nxt)


def plan_wake_s(plan: TransitionPlan, timers: SignalTimers, now_s: float) -> float:
    """Earliest time after ``now_s`` at which :func:`follow` may answer differently (s).

    While the signal shows the same state its timers' start times stay fixed, and the plan
    depends on time only through "held at least this long" tests: its timed links' own
    durations and the clearance of the foes its greens wait for. Until the next of those
    thresholds it gives the same answer, so a controller may skip asking. ``inf`` when none
    lies ahead.
    """
    wake = float("inf")
    since = timers.since_s
    for i, need_s, _ in plan.timed:
        due = since[i] + need_s - TIME_EPS_S  # the tests are "held + TIME_EPS_S >= need"
        if now_s < due < wake:
            wake = due
    unprotected = timers.unprotected_since_s
    for j, clearance_s, protected_s in plan.watch:
        for due in (since[j] + clearance_s, unprotected[j] + protected_s):
            due -= TIME_EPS_S
            if now_s < due < wake:
                wake = due
    return wake


class PlanCache:
    """Transition plans by (signal, state, target), made once each (a city's signals cycle
    through a few dozen pairs each).

    Parameters
    ----------
    max_plans
        Plans kept before the cache starts again (about 200 bytes each).
    """

    def __init__(self, max_plans: int = 100_000) -> None:
        self.max_plans = max_plans
        self._plans: dict[tuple[str, str, str], TransitionPlan] = {}

    def plan(self, model: Intersection, state: str, target: str) -> TransitionPlan:
        """The plan from ``state`` to ``target`` at ``model``'s signal."""
        key = (model.signal_id, state, target)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= self.max_plans:
                self._plans.clear()  # a bound, not a policy: plans are cheap to make again
            plan = self._plans[key] = plan_transition(model, state, target)
        return plan

    def step_toward(
        self, model: Intersection, timers: SignalTimers, target: str, now_s: float
    ) -> str:
        """:func:`step_toward` with the cached plan."""
        return follow(self.plan(model, timers.state, target), model, timers, now_s)


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


def protection_cleared(
    model: Intersection, timers: SignalTimers, i: int, c_i: str, j: int, c_j: str, t: float
) -> bool:
    """Whether green foe ``j`` (now ``c_j``) has cleared any protected green it showed, so
    that ``i`` may show ``c_i``: a ``G`` dropped to ``g`` counts as ended only after
    ``yellow_s + clearance_s`` of ``j`` (the guard's R3 makes the same test)."""
    if c_j == "G" or model.compatible(i, c_i, j, "G"):
        return True  # still protected (R1 decides) or never in i's way when protected
    if timers.state[j] == "G":
        return False  # dropping protection at this very moment
    need = model.timings[j].yellow_s + model.timings[j].clearance_s
    return t - timers.unprotected_since_s[j] + TIME_EPS_S >= need


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
