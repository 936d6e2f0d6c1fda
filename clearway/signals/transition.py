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

#: (foe, its greens beside which the link may turn on, its last greens the link yields to,
#: shows red now, shows ``G`` now, ``clearance_s``, ``yellow_s + clearance_s``).
FoeTest = tuple[int, frozenset[str], frozenset[str], bool, bool, float, float]


@dataclass(frozen=True, slots=True)
class TransitionPlan:
    """What :func:`step_toward` does between one state and one target, worked out once.

    Which links change regardless of time (``fixed``), which once they have held their aspect
    long enough (``timed``: link, duration in s, the character then shown) and which want to
    turn green and need their foes cleared (``wants_on``: link, green character); ``watch``
    holds those foes once each (link, ``clearance_s``, ``yellow_s + clearance_s``).
    ``turn_on`` is ``wants_on`` with the test of each foe worked out but the clocks: (link,
    green character, per foe (foe, the greens of the foe the link may show beside, the foe's
    last greens it yields to, whether the foe shows red now, whether it shows ``G`` now,
    ``clearance_s``, ``yellow_s + clearance_s``)). A controller that keeps a plan per (state,
    target) pair (:class:`PlanCache`) only re-reads the clocks (:func:`follow`,
    :func:`plan_wake_s`).
    """

    state: str
    target: str
    fixed: tuple[tuple[int, str], ...]
    timed: tuple[tuple[int, float, str], ...]
    wants_on: tuple[tuple[int, str], ...]
    watch: tuple[tuple[int, float, float], ...]
    turn_on: tuple[tuple[int, str, tuple[FoeTest, ...]], ...] = ()


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
    turn_on = tuple((i, c, _foe_tests(model, state, i, c)) for i, c in wants_on)
    return TransitionPlan(state, target, tuple(fixed), tuple(timed), tuple(wants_on), watch, turn_on)


def _foe_tests(model: Intersection, state: str, i: int, c: str) -> tuple[FoeTest, ...]:
    timings = model.timings
    return tuple(
        (j, beside, beside, ASPECT_OF[state[j]] == "red", state[j] == "G", timings[j].clearance_s,
         timings[j].yellow_s + timings[j].clearance_s)  # fmt: skip
        for j, beside in zip(model.blockers_of(i, c), model.blocker_yields(i, c), strict=True)
    )


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
    return "".join(_follow(plan, timers, now_s))


def _follow(plan: TransitionPlan, timers: SignalTimers, now_s: float) -> list[str]:
    nxt = list(plan.state)
    for i, c in plan.fixed:
        nxt[i] = c
    since = timers.since_s
    for i, need_s, c in plan.timed:
        if now_s - since[i] + TIME_EPS_S >= need_s:
            nxt[i] = c
    for i, c, tests in plan.turn_on:
        if _foes_cleared(tests, timers, nxt, now_s):
            nxt[i] = c
    return nxt


def _foes_cleared(tests: tuple[FoeTest, ...], timers: SignalTimers, nxt: list[str], now_s: float) -> bool:
    """Whether every foe in ``tests`` lets the link turn on at ``now_s``, the others showing
    ``nxt`` (the guard's R1 and R3, made with the plan's tables)."""
    since, last_green, unprotected = timers.since_s, timers.last_green, timers.unprotected_since_s
    for j, beside, yields_to, shows_red, shows_g, clearance_s, protected_s in tests:
        c_j = nxt[j]
        if c_j in GREEN_CHARS:
            # A green foe may stay only if the link may show its green beside it, and a foe
            # protected a moment ago must first clear that (its "yellow arrow" interval).
            if c_j not in beside or shows_g or not now_s - unprotected[j] + TIME_EPS_S >= protected_s:
                return False
        elif last_green[j] in yields_to:
            continue  # the link yields to whatever is still leaving j (never to a protected j)
        elif not shows_red or now_s - since[j] + TIME_EPS_S < clearance_s:
            return False
    return True


def _foes_cleared_s(
    tests: tuple[FoeTest, ...], timers: SignalTimers, nxt: list[str], now_s: float
) -> float:
    """When :func:`_foes_cleared` turns true if ``nxt`` stays as it is (s): the last of the
    foes' thresholds still ahead, ``inf`` if no wait is enough; called when it is false."""
    since, last_green, unprotected = timers.since_s, timers.last_green, timers.unprotected_since_s
    ready_s = now_s
    for j, beside, yields_to, shows_red, shows_g, clearance_s, protected_s in tests:
        c_j = nxt[j]
        if c_j in GREEN_CHARS:
            if c_j not in beside or shows_g:
                return float("inf")
            due = unprotected[j] + protected_s
        elif last_green[j] in yields_to:
            continue
        elif not shows_red:
            return float("inf")
        else:
            due = since[j] + clearance_s
        ready_s = max(ready_s, due - TIME_EPS_S)  # the tests are "held + TIME_EPS_S >= need"
    return ready_s


def plan_wake_s(plan: TransitionPlan, timers: SignalTimers, now_s: float) -> float:
    """Earliest time after ``now_s`` at which :func:`follow` may answer differently (s).

    While the signal shows the same state its timers' start times stay fixed, and the plan
    depends on time only through "held at least this long" tests: its timed links' own
    durations, and for each green still waiting the *last* of its foes' clearances (while
    the others show the same, it turns on when all have cleared, not at the first). Until the
    next of those it gives the same answer, so a controller may skip asking. ``inf`` when none
    lies ahead.
    """
    return _follow_and_wake(plan, timers, now_s)[1]


def follow_or_wake(plan: TransitionPlan, timers: SignalTimers, now_s: float) -> tuple[str | None, float]:
    """:func:`follow` and, when it shows what the signal shows, :func:`plan_wake_s`:
    (the state to show, ``inf``) or (None, the time to ask again) (s).

    The wake is wanted only while nothing changes, so the step is made first without it (the
    same tests in the same order, each link's foes asked only until one holds it back), and
    only a step that changes nothing is made again for its wake.
    """
    since = timers.since_s
    nxt = list(plan.state)
    for i, c in plan.fixed:
        nxt[i] = c
    changed = bool(plan.fixed)  # every link a plan names changes when it moves at all
    for i, need_s, c in plan.timed:
        if now_s - since[i] + TIME_EPS_S >= need_s:
            nxt[i] = c
            changed = True
    if plan.turn_on and _turn_on(plan, timers, nxt, now_s):
        changed = True
    if changed:
        state = "".join(nxt)
        if state != plan.state:
            return state, float("inf")
        # Not for a plan of plan_transition; a plan made otherwise is asked the long way.
    nxt, wake_s = _follow_and_wake(plan, timers, now_s)
    state = "".join(nxt)
    if state != plan.state:
        return state, float("inf")
    return None, wake_s


def _turn_on(plan: TransitionPlan, timers: SignalTimers, nxt: list[str], now_s: float) -> bool:
    """The greens of ``plan.turn_on`` whose foes let them on, set in ``nxt`` in plan order
    (:func:`_foes_cleared`, inline); whether any was."""
    since, last_green, unprotected = timers.since_s, timers.last_green, timers.unprotected_since_s
    any_on = False
    for i, c, tests in plan.turn_on:
        for j, beside, yields_to, shows_red, shows_g, clearance_s, protected_s in tests:
            c_j = nxt[j]
            if c_j in GREEN_CHARS:
                if c_j not in beside or shows_g or not now_s - unprotected[j] + TIME_EPS_S >= protected_s:
                    break
            elif last_green[j] in yields_to:
                continue
            elif not shows_red or now_s - since[j] + TIME_EPS_S < clearance_s:
                break
        else:
            nxt[i] = c
            any_on = True
    return any_on


def _follow_and_wake(plan: TransitionPlan, timers: SignalTimers, now_s: float) -> tuple[list[str], float]:
    """:func:`_follow` and the earliest threshold after ``now_s`` that may change its answer.

    The foe tests of :func:`_foes_cleared` and :func:`_foes_cleared_s` made in one pass per
    link, inline (this runs for every signal on its way to a phase, every time an interval
    may have run out): the same comparisons, written the same way, so the same answers
    (``tests/safety/test_transition_equivalence.py`` checks it against both).
    """
    nxt = list(plan.state)
    for i, c in plan.fixed:
        nxt[i] = c
    wake = float("inf")
    since = timers.since_s
    for i, need_s, c in plan.timed:
        if now_s - since[i] + TIME_EPS_S >= need_s:
            nxt[i] = c
        else:
            due = since[i] + need_s - TIME_EPS_S  # the tests are "held + TIME_EPS_S >= need"
            if now_s < due < wake:
                wake = due
    if not plan.turn_on:
        return nxt, wake
    last_green, unprotected = timers.last_green, timers.unprotected_since_s
    for i, c, tests in plan.turn_on:
        # cleared: _foes_cleared; ready_s: _foes_cleared_s (inf when no wait is enough).
        cleared = True
        ready_s = now_s
        for j, beside, yields_to, shows_red, shows_g, clearance_s, protected_s in tests:
            c_j = nxt[j]
            if c_j in GREEN_CHARS:
                if c_j not in beside or shows_g:
                    cleared = False
                    ready_s = _NEVER_S
                    break
                if not now_s - unprotected[j] + TIME_EPS_S >= protected_s:
                    cleared = False
                due = unprotected[j] + protected_s
            elif last_green[j] in yields_to:
                continue  # the link yields to whatever is still leaving j
            elif not shows_red:
                cleared = False
                ready_s = _NEVER_S
                break
            else:
                if now_s - since[j] + TIME_EPS_S < clearance_s:
                    cleared = False
                due = since[j] + clearance_s
            due -= TIME_EPS_S
            if due > ready_s:  # max(ready_s, due): the same float, without the call
                ready_s = due
                if not cleared and ready_s >= wake:
                    break  # it only grows: this link cannot bring the wake forward
        if cleared:
            nxt[i] = c
        elif now_s < ready_s < wake:
            # While nxt stays as it is (it changes only at one of these thresholds), the link
            # turns on when its last foe has cleared.
            wake = ready_s
    return nxt, wake


#: "No wait is enough" (s).
_NEVER_S = float("inf")


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
