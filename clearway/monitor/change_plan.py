"""What the monitor must check when one light goes from one state string to another.

Everything about a change ``old -> new`` of a light that does not depend on time or history --
which links change and how, which links start a green, which foe pairs are then green together
against the rules, and which foes each new green must be checked against -- is a pure function
of the two strings and the light's conflict table. The monitor works it out once per pair (a
city's lights cycle through a few dozen pairs each) and keeps it, so a step only reads clocks.
Pure and independent of the guard's model, like the rest of :mod:`clearway.monitor`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clearway.monitor.conflict_table import (
    A_GREEN,
    A_RED,
    A_YELLOW,
    ASPECT,
    GREEN,
    PERMISSIVE,
    compatible,
)

#: The greens a link's last green period can have shown (see ``_SignalWatch.last_green``).
_LAST_GREENS = ("G", "g", "s")
#: (pair mode, green of i) -> the last greens of foe j that i yields to (all pair modes).
_YIELDS_TO = {
    (mode, c_i): frozenset(g for g in _LAST_GREENS if compatible(mode, c_i, g))
    for mode in range(4)
    for c_i in GREEN
}


@dataclass(frozen=True, slots=True)
class ClearanceCheck:
    """The foes link ``link`` (now green ``char``) must be checked against, in foe order.

    Each of ``foes`` is (foe ``j``, its aspect now, the last greens of ``j`` that ``link``
    yields to). A green foe (aspect ``A_GREEN``) is listed only if it would conflict with
    ``link`` had it stayed protected: it needs ``yellow_s + clearance_s`` since it lost its
    ``G``. A foe not green must have been red for its ``clearance_s``, and not be yellow,
    unless its last green was one ``link`` yields to.
    """

    link: int
    char: str
    foes: tuple[tuple[int, int, frozenset[str]], ...]


@dataclass(frozen=True, slots=True)
class ChangePlan:
    """The time-free part of a light's change from ``old`` to ``new``.

    Attributes
    ----------
    changed
        Links whose character changed, and the same as a set.
    gains
        Links that stayed green and became protected (``g``/``s`` -> ``G``).
    drops
        Links that stayed green and lost protection (``G`` -> ``g``/``s``).
    moves
        Links that changed aspect: (link, old aspect, new aspect, new character, the time the
        old aspect must have been held for the change to be clean in s: ``inf`` for a change
        that never is, ``-inf`` for one the min-green and yellow rules do not time), link order.
    conflicts
        Foe pairs ``(i, j)``, ``i < j``, green together against the rules with at least one
        link in ``changed``.
    clearance
        One check per link that starts a green or gains protection, in link order.
    red_foes, green_foes
        When no foe of any check of ``clearance`` is yellow now: its foes red or off, and
        its green foes, each once (if each red one has been so for its ``clearance_s`` and
        each green one has not lost its protection within its ``yellow_s + clearance_s``,
        no check can flag anything); both None when a check has a yellow foe.
    """

    changed: tuple[int, ...]
    changed_set: frozenset[int]
    gains: tuple[int, ...]
    drops: tuple[int, ...]
    moves: tuple[tuple[int, int, int, str, float], ...]
    conflicts: frozenset[tuple[int, int]]
    clearance: tuple[ClearanceCheck, ...]
    red_foes: tuple[int, ...] | None = None
    green_foes: tuple[int, ...] | None = None


def conflict_pairs(
    foes: Sequence[dict[int, int]], state: str, links: Iterable[int]
) -> frozenset[tuple[int, int]]:
    """Foe pairs green together against the rules in ``state``, with one end in ``links``."""
    now = set()
    for i in links:
        c_i = state[i]
        if c_i not in GREEN:
            continue
        for j, mode in foes[i].items():
            c_j = state[j]
            if c_j in GREEN and not compatible(mode, c_i, c_j):
                now.add((i, j) if i < j else (j, i))
    return frozenset(now)


def plan_change(
    foes: Sequence[dict[int, int]],
    min_green_s: Sequence[float],
    yellow_s: Sequence[float],
    old: str,
    new: str,
) -> ChangePlan:
    """The :class:`ChangePlan` of a light with conflict table ``foes`` and per-link timings
    (s) going ``old -> new`` (two well-formed state strings of the same length)."""
    changed: list[int] = []
    gains: list[int] = []
    drops: list[int] = []
    moves: list[tuple[int, int, int, str, float]] = []
    turning_on: list[int] = []
    for i, (c_old, c_new) in enumerate(zip(old, new, strict=True)):
        if c_old == c_new:
            continue
        changed.append(i)
        a_old, a_new = ASPECT[c_old], ASPECT[c_new]
        if a_old == a_new:
            if a_new == A_GREEN and c_new == "G":
                gains.append(i)
                if c_old in PERMISSIVE:
                    turning_on.append(i)  # gains protection: foes must have cleared
            elif a_new == A_GREEN and c_old == "G":
                drops.append(i)
            continue
        moves.append(
            (i, a_old, a_new, c_new, clean_hold_s(a_old, a_new, min_green_s[i], yellow_s[i]))
        )
        if a_new == A_GREEN:
            turning_on.append(i)
    clearance = tuple(_clearance_check(foes, new, i) for i in turning_on)
    return ChangePlan(
        changed=tuple(changed),
        changed_set=frozenset(changed),
        gains=tuple(gains),
        drops=tuple(drops),
        moves=tuple(moves),
        conflicts=conflict_pairs(foes, new, changed),
        clearance=clearance,
        **_quick_foes(clearance),
    )


def _quick_foes(clearance: tuple[ClearanceCheck, ...]) -> dict[str, tuple[int, ...] | None]:
    """:attr:`ChangePlan.red_foes` and ``green_foes`` of ``clearance``."""
    entries = [(j, a_j) for check in clearance for j, a_j, _y in check.foes]
    if any(a_j == A_YELLOW for _j, a_j in entries):
        return {"red_foes": None, "green_foes": None}
    return {
        "red_foes": tuple(dict.fromkeys(j for j, a_j in entries if a_j != A_GREEN)),
        "green_foes": tuple(dict.fromkeys(j for j, a_j in entries if a_j == A_GREEN)),
    }


def clean_hold_s(a_old: int, a_new: int, min_green_s: float, yellow_s: float) -> float:
    """How long a link must have shown aspect ``a_old`` for its change to ``a_new`` to break
    neither the min-green nor the yellow rule (s); ``inf``: never clean, ``-inf``: untimed."""
    if a_old == A_GREEN:
        return math.inf if a_new == A_RED and yellow_s > 0 else min_green_s
    if a_old == A_YELLOW:
        return math.inf if a_new == A_GREEN else yellow_s
    if a_old == A_RED and a_new == A_YELLOW:
        return math.inf
    return -math.inf


def _clearance_check(foes: Sequence[dict[int, int]], state: str, i: int) -> ClearanceCheck:
    c_i = state[i]
    out: list[tuple[int, int, frozenset[str]]] = []
    for j, mode in foes[i].items():
        c_j = state[j]
        if c_j in GREEN:
            # Judged by the conflict rule, unless it was protected until lately and would
            # conflict with i as such.
            if c_j != "G" and not compatible(mode, c_i, "G"):
                out.append((j, A_GREEN, frozenset()))
            continue
        out.append((j, ASPECT[c_j], _YIELDS_TO[mode, c_i]))
    return ClearanceCheck(i, c_i, tuple(out))
