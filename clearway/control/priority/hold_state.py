"""What a held junction shows besides the priority vehicle's movement.

The hold is shaped after the program's own phase that serves the vehicle's movement
(:func:`phase_hold_state`): the vehicle's movement protected, every foe of it red, and every
other link as that phase shows it — the opposite through traffic keeps its green and the turns
beside the vehicle that yield to it keep their permissive green. Built from the bare claim
instead, a queued lane's left turn became a protected green and stopped the opposite through
traffic for the whole hold, and the recovery then owed that phase a turn of its own.

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


def phase_hold_state(
    model: Intersection, phases: Sequence[str], core: frozenset[int], links: frozenset[int]
) -> str | None:
    """The hold's state shaped after the program phase that serves the vehicle.

    Parameters
    ----------
    model
        The junction.
    phases
        The normal program's phase states.
    core
        The vehicle's own movement (signal indices).
    links
        Everything the claim needs green: ``core`` and the other movements of its lanes.

    Returns
    -------
    str or None
        Of the phases greening every ``core`` link, the one greening most of ``links`` (then
        most links): ``core`` protected (``G``), every link that conflicts with a ``core``
        link red — a permissive green yielding to the vehicle too: a driver turning across an
        emergency vehicle's path misjudges its speed — and the rest as the phase shows it (its
        yellows red). A claimed link the phase leaves red is added green, protected where no
        green conflicts with it, else permissive where it only yields, else by turning red the
        (non-core) greens in its way. ``None`` if no phase greens all of ``core``, or if
        ``core`` links cannot all be protected together.
    """
    if any(not model.compatible(i, "G", j, "G") for i in core for j in core if i != j):
        return None  # merging movements: only the bare claim can tell which yields
    best: str | None = None
    best_key = (-1, -1)
    for phase in phases:
        if len(phase) != len(model.timings) or not all(phase[i] in GREEN_CHARS for i in core):
            continue
        greens = {i for i, c in enumerate(phase) if c in GREEN_CHARS}
        key = (len(greens & links), len(greens))
        if key > best_key:
            best, best_key = phase, key
    if best is None:
        return None
    out = list(best)
    for i, c in enumerate(best):
        if i in model.fixed_off:
            continue
        if i in core:
            out[i] = "G"
        elif any(model.conflicts(i, j) or model.conflicts(j, i) for j in core) or c not in GREEN_CHARS:
            out[i] = "r"
    for i in sorted(links - core):
        if out[i] in GREEN_CHARS or i in model.fixed_off:
            continue
        greens = [j for j, c in enumerate(out) if c in GREEN_CHARS and j != i]
        if all(model.compatible(i, "G", j, out[j]) for j in greens):
            out[i] = "G"
        elif all(model.compatible(i, "g", j, out[j]) for j in greens):
            out[i] = "g"
        elif all(model.compatible(i, "g", j, out[j]) for j in greens if j in core):
            for j in greens:
                if j not in core and not model.compatible(i, "G", j, out[j]):
                    out[j] = "r"
            out[i] = "G" if all(model.compatible(i, "G", j, out[j]) for j in core) else "g"
    return "".join(out)
