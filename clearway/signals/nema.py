"""NEMA phases over the intersection model: which link each phase and overlap of a field
controller drives, the link state a set of phases shows, and a dual-ring map derived from a
SUMO program.

A field controller (NTCIP 1202) runs NEMA phases arranged in rings and barrier groups, not
SUMO link states. A :class:`PhaseMap` ties the two together: each :class:`NemaPhase` drives a set
of links (some of them as permissive ``g``) and the walk of some pedestrian crossings; an
:class:`Overlap` drives links that stay green while any of its parent phases is. Two phases may
time together only when they are in different rings and in the same barrier group;
:func:`check_phase_map` verifies, against the intersection model, that every such pair is safe.

Pure standard library and :mod:`clearway.signals` on purpose: the field adapters and the
virtual controllers build on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from clearway.errors import ClearwayError
from clearway.signals.model import GREEN_CHARS, PERMISSIVE_CHARS, YELLOW_CHARS, Intersection
from clearway.signals.programs import safe_phase_states

#: NTCIP 1202 numbers phases and overlaps 1..16 (maxPhases / maxOverlaps of a typical cabinet).
MAX_PHASES = 16
MAX_OVERLAPS = 16
MAX_RINGS = 4

if TYPE_CHECKING:  # only for annotations: signals reads programs, never loads networks
    from clearway.network.model import SignalProgram


class NemaError(ClearwayError):
    """A phase map cannot be built or a state cannot be shown by NEMA phases."""


class SignalLinkLike(Protocol):
    """What the phase-map functions read of a network link
    (:class:`clearway.network.model.Link` fits)."""

    signal_index: int
    from_edge: str
    from_lane: str
    to_lane: str


@dataclass(frozen=True)
class NemaPhase:
    """One NEMA phase of a controller.

    Attributes
    ----------
    number
        Phase number, 1..16.
    ring
        Ring the phase times in, 1..4.
    links
        Link indices (positions in the state string) the phase drives green.
    permissive
        The subset of ``links`` shown as permissive green ``g`` (yields by right of way).
    ped_links
        Pedestrian-crossing links whose walk this phase drives.
    """

    number: int
    ring: int
    links: frozenset[int]
    permissive: frozenset[int] = frozenset()
    ped_links: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Overlap:
    """A NEMA overlap: its links are green while any parent phase is green, and stay green
    through a parent's change interval when the next phase is a parent too.

    Attributes
    ----------
    number
        Overlap number, 1..16 (A..P on a cabinet).
    parents
        Phase numbers of its parents.
    links, permissive
        Links it drives green, and the subset shown permissive ``g``.
    """

    number: int
    parents: frozenset[int]
    links: frozenset[int]
    permissive: frozenset[int] = frozenset()


@dataclass(frozen=True)
class PhaseMap:
    """The NEMA structure of one controller and the links it drives.

    Attributes
    ----------
    signal_id
        The network's traffic-light id.
    link_count
        Length of the traffic light's state strings.
    phases, overlaps
        Its phases and overlaps.
    rings
        Each ring's phase order (NTCIP ``sequenceData``), ring 1 first.
    barriers
        Barrier (concurrency) groups in cycle order: phases of different rings in one group may
        time together; the rings cross from one group to the next together.
    """

    signal_id: str
    link_count: int
    phases: tuple[NemaPhase, ...]
    overlaps: tuple[Overlap, ...] = ()
    rings: tuple[tuple[int, ...], ...] = ()
    barriers: tuple[frozenset[int], ...] = ()

    def phase(self, number: int) -> NemaPhase:
        """The phase numbered ``number``."""
        for p in self.phases:
            if p.number == number:
                return p
        raise NemaError(f"signal {self.signal_id!r} has no phase {number}; it has "
                        f"{sorted(p.number for p in self.phases)}")  # fmt: skip

    @property
    def numbers(self) -> frozenset[int]:
        """Numbers of all its phases."""
        return frozenset(p.number for p in self.phases)

    def barrier_of(self, number: int) -> int:
        """Index of the barrier group holding phase ``number`` (-1 if none)."""
        return next((b for b, group in enumerate(self.barriers) if number in group), -1)

    def concurrent(self, a: int, b: int) -> bool:
        """Whether phases ``a`` and ``b`` may time together: different rings, one barrier group."""
        if a == b:
            return False
        return self.phase(a).ring != self.phase(b).ring and any(
            a in g and b in g for g in self.barriers
        )


def state_of(
    pm: PhaseMap,
    greens: Iterable[int],
    yellows: Iterable[int] = (),
    walks: Iterable[int] = (),
    ped_clears: Iterable[int] = (),
    *,
    ons: Iterable[int] = (),
    nexts: Iterable[int] = (),
) -> str:
    """The SUMO-style link state a controller shows with these phases green and yellow.

    Parameters
    ----------
    pm
        The phase map.
    greens, yellows
        Phase numbers showing green and yellow.
    walks, ped_clears
        Phases showing walk (their crossings ``G``) and pedestrian clearance (``r``: flashing
        don't walk lets nobody new start crossing).
    ons, nexts
        Phases active in their ring (green, change interval or red rest) and those committed to
        come next (NTCIP phase ons / nexts): an overlap whose parent is on but not green stays
        green when a parent is next, as a cabinet's overlap does.

    Returns
    -------
    str
        ``G``/``g`` for links of green phases and overlaps, ``y`` for those of yellow ones,
        ``r`` otherwise.
    """
    green, yellow = frozenset(greens), frozenset(yellows)
    on, nxt = frozenset(ons), frozenset(nexts)
    unknown = (green | yellow | frozenset(walks) | frozenset(ped_clears)) - pm.numbers
    if unknown:
        raise NemaError(f"signal {pm.signal_id!r} has no phase {sorted(unknown)}")
    s = ["r"] * pm.link_count
    for p in pm.phases:
        if p.number in green:
            _paint(s, p.links, p.permissive)
        elif p.number in yellow:
            _paint_yellow(s, p.links)
    for o in pm.overlaps:
        if o.parents & green or (o.parents & nxt and o.parents & on):
            _paint(s, o.links, o.permissive)
        elif o.parents & yellow:
            _paint_yellow(s, o.links)
    for n in frozenset(walks):
        for i in pm.phase(n).ped_links:
            if 0 <= i < len(s):
                s[i] = "G"
    return "".join(s)


def _paint(s: list[str], links: frozenset[int], permissive: frozenset[int]) -> None:
    for i in links:
        if 0 <= i < len(s):
            s[i] = "g" if i in permissive else "G"


def _paint_yellow(s: list[str], links: frozenset[int]) -> None:
    for i in links:
        if 0 <= i < len(s) and s[i] == "r":
            s[i] = "y"


def _normalised(state: str) -> str:
    table = (
        {c: "G" for c in "G"}
        | dict.fromkeys(PERMISSIVE_CHARS, "g")
        | dict.fromkeys(YELLOW_CHARS, "y")
    )
    return "".join(table.get(c, "r") for c in state)


def phases_of(pm: PhaseMap, state: str) -> tuple[frozenset[int], frozenset[int]]:
    """The (green, yellow) phases that show ``state``: the inverse of :func:`state_of`
    (crossings shown green are the walks of green phases).

    Raises
    ------
    NemaError
        If no set of green and yellow phases shows exactly this state (``s`` counts as ``g``,
        ``Y`` as ``y``, ``u``/``o``/``O`` as red).
    """
    if len(state) != pm.link_count:
        raise NemaError(f"signal {pm.signal_id!r}: state {state!r} has {len(state)} links, "
                        f"the phase map {pm.link_count}")  # fmt: skip
    want = _normalised(state)
    green: set[int] = set()
    yellow: set[int] = set()
    free = []
    for p in pm.phases:
        if not p.links:
            free.append(p)  # drives only overlaps or walks: decided from those below
        elif all(want[i] in "Gg" for i in p.links if i < len(want)):
            green.add(p.number)
        elif all(want[i] == "y" for i in p.links if i < len(want)):
            yellow.add(p.number)
    shown = {o.number: _aspect(want, o.links) for o in pm.overlaps}
    # A link-less phase is green (yellow) only where an overlap needs a green (yellow) parent
    # it does not have yet, and only if none of its overlaps shows less than that.
    for want_aspect, chosen in (("G", green), ("y", yellow)):
        for o in pm.overlaps:
            if shown[o.number] != want_aspect or o.parents & chosen:
                continue
            # Of several parents that could explain it, one the phases already chosen can
            # run beside (same barrier group, another ring) before any other: a set across
            # a barrier shows the same links but no controller can show it.
            for p in sorted(free, key=lambda p: (not _beside(pm, p.number, green | yellow), p.number)):
                mine = [shown[q.number] for q in pm.overlaps if p.number in q.parents]
                fits = all(a == "G" for a in mine) if want_aspect == "G" else "r" not in mine
                if p.number in o.parents and fits and p.number not in green | yellow:
                    chosen.add(p.number)
                    break
    walks = _walks(pm, want, green)
    one_per_ring = all(
        sum(pm.phase(n).ring == r for n in green | yellow) <= 1 for r in range(1, MAX_RINGS + 1)
    )
    if one_per_ring and state_of(pm, green, yellow, walks) == want:
        return frozenset(green), frozenset(yellow)
    raise NemaError(f"signal {pm.signal_id!r}: no set of green and yellow phases (at most one "
                    f"per ring) shows {state!r}")  # fmt: skip


def _beside(pm: PhaseMap, number: int, chosen: set[int]) -> bool:
    """Whether phase ``number`` can be green beside every phase of ``chosen``."""
    ring = pm.phase(number).ring
    return all(
        pm.phase(n).ring != ring and any(number in g and n in g for g in pm.barriers)
        for n in chosen
    )


def _walks(pm: PhaseMap, want: str, green: set[int]) -> set[int]:
    """Phases whose walk shows the crossings ``want`` has green; pedestrian-only phases (no
    vehicle link) are added to ``green`` for crossings no green phase's walk covers."""
    walks = {n for n in green if (pl := pm.phase(n).ped_links) and all(want[i] == "G" for i in pl)}
    shown = {i for n in walks for i in pm.phase(n).ped_links}
    crossings = {i for p in pm.phases for i in p.ped_links if i < len(want) and want[i] == "G"}
    ped_only = [p for p in pm.phases if not p.links and p.ped_links and p.number not in green]
    for p in sorted(ped_only, key=lambda p: (-len(p.ped_links), p.number)):
        if p.ped_links <= crossings and not p.ped_links <= shown:
            green.add(p.number)
            walks.add(p.number)
            shown |= p.ped_links
    return walks


def _aspect(state: str, links: frozenset[int]) -> str:
    """``G`` if all ``links`` are green in ``state``, ``y`` if all yellow, else ``r``."""
    chars = {state[i] for i in links if i < len(state)}
    if chars <= {"G", "g"}:
        return "G"
    return "y" if chars == {"y"} else "r"


def expressible(pm: PhaseMap, state: str) -> bool:
    """Whether some set of green and yellow phases of ``pm`` shows ``state``."""
    try:
        phases_of(pm, state)
    except NemaError:
        return False
    return True


def service_states(model: Intersection, program: SignalProgram) -> list[str]:
    """The program's green service phases in cycle order, as the guard will show them.

    The same rule as :func:`clearway.control.phase_control.service_phases` (kept here because
    the core's layering lets signals not import control): a phase showing yellow is a change
    interval; programs made only of such phases are served with their yellows shown red.
    """
    states = safe_phase_states(model, program)
    greens = [s for s in states if any(c in GREEN_CHARS for c in s)]
    clean = [s for s in greens if not any(c in YELLOW_CHARS for c in s)]
    if clean:
        return clean
    return ["".join("r" if c in YELLOW_CHARS else c for c in s) for s in greens]


def never_green_links(model: Intersection, program: SignalProgram) -> frozenset[int]:
    """Links no service phase of ``program`` shows green (no phase needs to drive them)."""
    states = service_states(model, program)
    return frozenset(
        i for i in range(model.link_count) if not any(s[i] in GREEN_CHARS for s in states)
    )


def never_green_in(model: Intersection, programs: Iterable[SignalProgram]) -> frozenset[int]:
    """Links none of ``programs`` ever shows green (:func:`never_green_links` of each)."""
    return frozenset.intersection(*(never_green_links(model, p) for p in programs))
