"""What a held junction shows besides the priority vehicle's movement.

A hold needs only the claimed links green and their foes red. Every other link that crosses
or merges with none of the greens can keep moving: the opposite through traffic, right turns
beside the vehicle, the cross street's turns that never meet its path. Leaving those red (as a
bare claim does when the hold starts from another phase) stops people for nothing, and every
link left red is owed a turn by the recovery afterwards, which lengthens it.

Only links that are no foe of any green at all are added — never a permissive (``g``) link
that would have to yield to the vehicle: a driver turning across an emergency vehicle's path
misjudges its speed.
"""

from __future__ import annotations

from collections.abc import Sequence

from clearway.signals.model import GREEN_CHARS, Intersection


def fill_compatible(model: Intersection, state: str, phases: Sequence[str] = ()) -> str:
    """``state`` with every red link that is a foe of no green link turned green.

    Parameters
    ----------
    model
        The junction.
    state
        A hold's target (claimed links green, their foes red).
    phases
        The normal program's phase states, if any: links of the phase sharing most greens
        with ``state`` are added first, so the result looks like that phase where two
        candidate links are foes of each other (then only the first is added).

    Returns
    -------
    str
        The filled state: greens of ``state`` unchanged, added links ``G``, the rest as given.
    """
    greens = [i for i, c in enumerate(state) if c in GREEN_CHARS]
    green_set = set(greens)
    preferred = _closest_phase_greens(phases, green_set)
    candidates = [
        i for i, c in enumerate(state)
        if c not in GREEN_CHARS and i not in model.fixed_off
    ]  # fmt: skip
    candidates.sort(key=lambda i: (i not in preferred, i))
    out = list(state)
    for i in candidates:
        if any(model.conflicts(i, j) or model.conflicts(j, i) for j in greens):
            continue
        out[i] = "G"
        greens.append(i)
    return "".join(out)


def _closest_phase_greens(phases: Sequence[str], greens: set[int]) -> frozenset[int]:
    best: frozenset[int] = frozenset()
    best_key = (-1, 0)
    for phase in phases:
        shown = frozenset(i for i, c in enumerate(phase) if c in GREEN_CHARS)
        key = (len(shown & greens), -len(shown - greens))
        if key > best_key:
            best, best_key = shown, key
    return best
