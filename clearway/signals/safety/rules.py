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
from typing import NamedTuple

from clearway.signals.memo import BoundedMemo
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
    early, late = _string_checks(model, cmd)
    if early is not None:
        return [early]
    observed = _observed_checks(model, timers, cmd, max_state_age_s)
    if observed is not None:
        return [observed]
    return list(late)


def malformed_memo(
    model: Intersection,
    timers: SignalTimers | None,
    cmd: SignalCommand,
    max_state_age_s: float,
    memo: BoundedMemo[tuple[str, str | None], tuple[str | None, tuple[str, ...]]],
) -> list[str]:
    """:func:`malformed`, with the part that depends on the command's strings only kept in
    ``memo`` per (state, then) (a signal is sent a few dozen distinct strings). Only plain
    ``str`` strings are kept: anything else is judged afresh, as :func:`malformed` does."""
    state, then = cmd.state, cmd.then
    if type(state) is not str or (then is not None and type(then) is not str):
        return malformed(model, timers, cmd, max_state_age_s)
    found = memo.get((state, then))
    if found is None:
        found = memo.remember((state, then), _string_checks(model, cmd))
    early, late = found
    if early is not None:
        return [early]
    observed = _observed_checks(model, timers, cmd, max_state_age_s)
    if observed is not None:
        return [observed]
    return list(late)


def _string_checks(model: Intersection, cmd: SignalCommand) -> tuple[str | None, tuple[str, ...]]:
    """R5 on the command's strings alone: the reason that stops judging at once (or None),
    and the reasons about links that must or may not be off (judged last)."""
    n = model.link_count
    if not isinstance(cmd.state, str) or len(cmd.state) != n:
        got = len(cmd.state) if isinstance(cmd.state, str) else type(cmd.state).__name__
        return f"R5-malformed: state must have {n} characters for {model.signal_id!r}, got {got}", ()
    if not ALL_CHARS.issuperset(cmd.state):
        bad = sorted({c for c in cmd.state if c not in ALL_CHARS})
        return f"R5-malformed: unknown state characters {''.join(bad)!r} (allowed: GgsyYurOo)", ()
    if cmd.then is not None and (
        not isinstance(cmd.then, str) or len(cmd.then) != n or not ALL_CHARS.issuperset(cmd.then)
    ):
        return f"R5-malformed: target state 'then' must be {n} characters of GgsyYurOo for {model.signal_id!r}, got {cmd.then!r}", ()
    reasons = []
    for name, state in (("state", cmd.state), ("then", cmd.then)):
        if state is None or (not model.fixed_off and OFF_CHARS.isdisjoint(state)):
            continue  # the usual case: nothing off, nothing that must be
        for i, c in enumerate(state):
            if (c in OFF_CHARS) != (i in model.fixed_off):
                where = "" if name == "state" else " in target 'then'"
                reasons.append(f"R5-malformed: link {i} may not be switched {'off' if c in OFF_CHARS else 'on'}{where}")
    return None, tuple(reasons)


def _observed_checks(
    model: Intersection, timers: SignalTimers | None, cmd: SignalCommand, max_state_age_s: float
) -> str | None:
    """R5 on the command's time and the observed state it is judged against (None: fine)."""
    n = model.link_count
    if not isinstance(cmd.time_s, int | float) or not math.isfinite(cmd.time_s):
        return f"R5-malformed: command time {cmd.time_s!r} is not a finite number of seconds"
    if timers is None:
        return f"R5-malformed: no observed state for {model.signal_id!r}; cannot judge"
    if timers.signal_id != model.signal_id or len(timers.state) != n:
        return f"R5-malformed: observed state belongs to {timers.signal_id!r}, not {model.signal_id!r}"
    age = cmd.time_s - timers.time_s
    if age < -TIME_EPS_S:
        return f"R5-malformed: command time {cmd.time_s} s is before the observed state ({timers.time_s} s)"
    if age > max_state_age_s + TIME_EPS_S:
        return f"R5-malformed: observed state is stale ({age:.1f} s old, limit {max_state_age_s} s)"
    return None


#: A held time no interval falls short of: a change with nothing to wait out (s).
_NO_MINIMUM_S = -math.inf


class PairPlan(NamedTuple):
    """What judging a command ``new`` against an observed state ``old`` needs, worked out once
    per (old, new) pair: the time tests R2 and R3 make, with their reasons but the clocks.

    Attributes
    ----------
    changes
        R2, per link that changes aspect, in link order: (link, minimum held time in s or
        ``-inf``, reason template for a shorter hold, reason that holds whatever the time).
    bad_char
        An observed character with no aspect (judging it raises, fail closed), else None.
    clears
        R3, per (link turning on, foe that can hold it back), in that order: (kind, foe,
        the foe's last greens that never hold the link back, time in s, reason or template).
    """

    changes: tuple[tuple[int, float, str | None, str | None], ...]
    bad_char: str | None
    clears: tuple[tuple[str, int, frozenset[str], float, str], ...]
    #: When every test of ``clears`` is of a foe shown red: each such foe once, with its
    #: clearance (s); None otherwise. A link turning green is usually held back by the same
    #: few foes as its neighbours, so R3 holds at once when each of them has been red long
    #: enough (:func:`clearance`).
    red_foes: tuple[tuple[int, float], ...] | None = None


def pair_plan(
    model: Intersection, old: str, new: str, memo: BoundedMemo[tuple[str, str], PairPlan]
) -> PairPlan:
    """The :class:`PairPlan` of ``old -> new`` at ``model``'s signal, from ``memo`` if it is
    there (``new`` must have passed :func:`malformed`)."""
    plan = memo.get((old, new))
    if plan is None:
        changes, bad_char = _changes(model, old, new)
        clears = _clears(model, old, new) if bad_char is None else ()
        plan = memo.remember((old, new), PairPlan(changes, bad_char, clears, _red_foes(clears)))
    return plan


def conflicting_greens(
    model: Intersection, cmd: SignalCommand, memo: BoundedMemo[tuple[str, str | None], tuple[str, ...]]
) -> list[str]:
    """R1: no two conflicting links green at once (in the state, and in the target ``then``).

    It depends on the two strings only, so ``memo`` keeps the answer per (state, then)."""
    found = memo.get((cmd.state, cmd.then))
    if found is None:
        found = memo.remember((cmd.state, cmd.then), _conflicts(model, cmd.state, cmd.then))
    return list(found)


def _conflicts(model: Intersection, state: str, then: str | None) -> tuple[str, ...]:
    out = [
        f"R1-conflict: links {i} ({state[i]}) and {j} ({state[j]}) conflict and may not be green together"
        for i, j in model.conflicting_greens(state)
    ]
    if then is not None:
        out += [
            f"R1-conflict: target 'then' has links {i} ({then[i]}) and {j} ({then[j]}) green together, which conflict"
            for i, j in model.conflicting_greens(then)
        ]
    return tuple(out)


def transitions(plan: PairPlan, timers: SignalTimers, t: float) -> list[str]:
    """R2: min green, yellow never cut short, no aspect skipped (a command at ``t`` s)."""
    reasons = []
    since = timers.since_s
    for i, need_s, template, static in plan.changes:
        held = t - since[i]
        if held + TIME_EPS_S < need_s:
            reasons.append(template.format(held))
        if static is not None:
            reasons.append(static)
    if plan.bad_char is not None:
        raise KeyError(plan.bad_char)
    return reasons


def _changes(
    model: Intersection, old: str, new: str
) -> tuple[tuple[tuple[int, float, str | None, str | None], ...], str | None]:
    out: list[tuple[int, float, str | None, str | None]] = []
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        if a == b:
            continue
        a_old = ASPECT_OF.get(a)
        if a_old is None:
            return tuple(out), a  # judging stops here, as a lookup of it would
        a_new = ASPECT_OF[b]
        if a_old == a_new:
            continue
        timing = model.timings[i]
        if a_old == "green":
            skip = f"R2-yellow: link {i} may not go from green to red without yellow"
            out.append((
                i, timing.min_green_s,
                f"R2-min-green: link {i} green for {{:.1f}} s, minimum {timing.min_green_s:.1f} s",
                skip if a_new == "red" and timing.yellow_s > 0 else None,
            ))  # fmt: skip
        elif a_old == "yellow":
            if a_new == "green":
                out.append((i, _NO_MINIMUM_S, None, f"R2-yellow: link {i} may not go from yellow back to green"))
            else:
                out.append((
                    i, timing.yellow_s,
                    f"R2-yellow: link {i} yellow for {{:.1f}} s, minimum {timing.yellow_s:.1f} s", None,
                ))  # fmt: skip
        elif a_old == "red" and a_new == "yellow":
            out.append((i, _NO_MINIMUM_S, None, f"R2-yellow: link {i} may not go from red to yellow"))
        elif a_new == "off" or a_old == "off":
            out.append((i, _NO_MINIMUM_S, None, f"R5-malformed: link {i} may not switch between off and {a_new}"))
        else:  # red -> green: R3 judges its foes
            out.append((i, _NO_MINIMUM_S, None, None))
    return tuple(out), None


def clearance(plan: PairPlan, timers: SignalTimers, t: float) -> list[str]:
    """R3: a link turns green only after every conflicting link has cleared (a command at
    ``t`` s)."""
    since, last_green, unprotected = timers.since_s, timers.last_green, timers.unprotected_since_s
    red_foes = plan.red_foes
    if red_foes is not None and type(last_green) is str and len(last_green) == len(timers.state):
        # Every test is "j red for need_s, unless the link yields to j's last green": when
        # each j has been red that long, none can fail, whatever j's last green was (the
        # loop below would make the very same comparisons, and its look-ups of a str of the
        # signal's length cannot fail). Anything odd is judged the long way, which raises
        # where it always did.
        try:
            for j, need_s in red_foes:
                if t - since[j] + TIME_EPS_S < need_s:
                    break
            else:
                return []
        except Exception:
            pass
    reasons = []
    for kind, j, yields_to, need_s, text in plan.clears:
        if kind == "dropped":
            # A foe that was protected a moment ago still has vehicles to clear (its
            # "yellow arrow" interval): ``yellow_s + clearance_s`` from the drop.
            if not t - unprotected[j] + TIME_EPS_S >= need_s:
                reasons.append(text.format(unprotected[j]))
        elif kind == "drops-now":
            reasons.append(text)
        elif last_green[j] in yields_to:
            continue  # i yields to whatever is still leaving j (never to a protected j)
        elif kind == "busy":
            reasons.append(text)
        else:
            red_for = t - since[j]
            if red_for + TIME_EPS_S < need_s:
                reasons.append(text.format(red_for))
    return reasons


def _red_foes(
    clears: tuple[tuple[str, int, frozenset[str], float, str], ...],
) -> tuple[tuple[int, float], ...] | None:
    """:attr:`PairPlan.red_foes` of ``clears``."""
    if any(kind != "red" for kind, *_ in clears):
        return None
    return tuple(dict.fromkeys((j, need_s) for _kind, j, _yields, need_s, _text in clears))


def _clears(model: Intersection, old: str, new: str) -> tuple[tuple[str, int, frozenset[str], float, str], ...]:
    out: list[tuple[str, int, frozenset[str], float, str]] = []
    for i, (a, c) in enumerate(zip(old, new, strict=True)):
        # Links that start a green, or gain protection (g/s -> G), with this command.
        if c not in GREEN_CHARS or (a in GREEN_CHARS and not (c == "G" and a in PERMISSIVE_CHARS)):
            continue
        for j in model.blockers_of(i, c):  # other foes never hold i back
            timing = model.timings[j]
            if new[j] in GREEN_CHARS:
                # R1 judges the pair as shown; a G dropped to g counts as ended only after
                # yellow_s + clearance_s of j.
                if new[j] == "G" or model.compatible(i, c, j, "G"):
                    continue
                need = timing.yellow_s + timing.clearance_s
                to_clear = f"and needs {need:.1f} s to clear it"
                if a_j_protected := old[j] == "G":
                    why = f"R3-clearance: link {i} may not turn green: conflicting link {j} drops its protected green now {to_clear}"
                else:
                    why = f"R3-clearance: link {i} may not turn green: conflicting link {j} dropped its protected green at {{:.1f}} s {to_clear}"
                out.append(("drops-now" if a_j_protected else "dropped", j, frozenset(), need, why))
                continue
            yields_to = frozenset(x for x in PERMISSIVE_CHARS if model.compatible(i, c, j, x))
            old_j = ASPECT_OF[old[j]]
            if old_j in ("green", "yellow"):
                why = f"R3-clearance: link {i} may not turn green while conflicting link {j} is {old_j}"
                out.append(("busy", j, yields_to, _NO_MINIMUM_S, why))
                continue
            need = timing.clearance_s if old_j == "red" else _NO_MINIMUM_S
            why = (
                f"R3-clearance: link {i} may not turn green: conflicting link {j} red for "
                f"{{:.1f}} s, clearance {need:.1f} s"
            )
            out.append(("red", j, yields_to, need, why))
    return tuple(out)
