"""The intersection model the safety guard reasons about: links, conflicts, safety timings.

Pure standard library on purpose: the guard (``signals.safety``) imports this and nothing
outside ``signals``. :mod:`clearway.signals.build` turns a :class:`~clearway.network.Network`
into these models.

Signal states are SUMO's characters, one per link of the traffic light:
``G`` protected green, ``g`` permissive green (yields by right of way), ``s`` green after
stopping (treated like ``g``), ``y``/``Y`` yellow (minor/major; some programs use both),
``u`` red+yellow (about to go green; still red),
``r`` red, ``o``/``O`` signal off (only allowed on a link the programs never drive otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntFlag

#: Comparisons of times tolerate this much floating-point noise (s).
TIME_EPS_S = 1e-6

GREEN_CHARS = frozenset("Ggs")
PERMISSIVE_CHARS = frozenset("gs")
YELLOW_CHARS = frozenset("yY")
RED_CHARS = frozenset("ru")
OFF_CHARS = frozenset("oO")
ALL_CHARS = GREEN_CHARS | YELLOW_CHARS | RED_CHARS | OFF_CHARS
#: Aspect class of every state character: ``"green"``, ``"yellow"``, ``"red"`` or ``"off"``
#: (a dict lookup: the guard and the transition logic ask it for every link of every command).
ASPECT_OF: dict[str, str] = (
    dict.fromkeys(GREEN_CHARS, "green")
    | dict.fromkeys(YELLOW_CHARS, "yellow")
    | dict.fromkeys(RED_CHARS, "red")
    | dict.fromkeys(OFF_CHARS, "off")
)


def is_green(c: str) -> bool:
    """True for a green of any kind (``G``, ``g``, ``s``)."""
    return c in GREEN_CHARS


def is_red(c: str) -> bool:
    """True for red and red+yellow (``r``, ``u``): no vehicle may enter."""
    return c in RED_CHARS


#: Plain-int twins of :class:`Relation` for hot paths (IntFlag arithmetic is slow).
FOE, HARD, YIELDS = 1, 2, 4


class Relation(IntFlag):
    """How link i relates to link j (``Intersection.relation[i][j]``).

    FOE      their paths cross or merge;
    HARD     they may never show green together;
    YIELDS   i may show a *permissive* green while j is green, because i yields to j.
    """

    NONE = 0
    FOE = 1
    HARD = 2
    YIELDS = 4


@dataclass(frozen=True, slots=True)
class LinkTimings:
    """Safety timings of one signal link (all in s).

    Attributes
    ----------
    min_green_s
        Shortest green before the link may end its green.
    yellow_s
        Shortest yellow (change interval) after green; 0 for a pedestrian crossing, whose
        clearance is its ``clearance_s`` instead.
    clearance_s
        Time this link must be red before any conflicting link may turn green: the red
        clearance (all-red) for a vehicle link, the pedestrian clearance for a crossing.
    """

    min_green_s: float
    yellow_s: float
    clearance_s: float


@dataclass(frozen=True, slots=True)
class Intersection:
    """One traffic light's links, their conflicts and safety timings.

    Attributes
    ----------
    signal_id
        Id of the traffic light (SUMO tlLogic id).
    junction_ids
        Junctions the traffic light drives (usually one).
    relation
        ``relation[i][j]`` is a :class:`Relation` of link i towards link j.
    timings
        Safety timings per link index.
    is_crossing
        True where the link is a pedestrian crossing.
    fixed_off
        Links that every program shows ``o``/``O`` (not driven by the signal).
    """

    signal_id: str
    junction_ids: tuple[str, ...]
    relation: tuple[tuple[int, ...], ...]
    timings: tuple[LinkTimings, ...]
    is_crossing: tuple[bool, ...]
    fixed_off: frozenset[int] = frozenset()
    _foes: tuple[tuple[int, ...], ...] = ()
    _blockers: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()
    # (link, protected?) -> per blocker, the permissive greens it may show beside the link:
    # filled on first use (transition plans ask it for the few links a change turns on).
    _yields: dict[tuple[int, bool], tuple[frozenset[str], ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        n = len(self.relation)
        if any(len(row) != n for row in self.relation) or len(self.timings) != n:
            raise ValueError(f"signal {self.signal_id!r}: relation and timings must cover {n} links")
        foes = tuple(tuple(j for j, r in enumerate(row) if r & FOE and j != i)
                     for i, row in enumerate(self.relation))  # fmt: skip
        object.__setattr__(self, "_foes", foes)
        # A foe that i may show green beside even when the foe is protected never holds i
        # back (a permissive green is compatible with more than a protected one).
        blockers = tuple(
            tuple(tuple(j for j in foes[i] if not self.compatible(i, c, j, "G")) for c in "Gg")
            for i in range(n)
        )
        object.__setattr__(self, "_blockers", blockers)

    @property
    def link_count(self) -> int:
        """Number of links (length of a state string)."""
        return len(self.relation)

    def conflicts(self, i: int, j: int) -> bool:
        """True if links i and j are foes (paths cross or merge)."""
        return bool(self.relation[i][j] & FOE)

    def compatible(self, i: int, state_i: str, j: int, state_j: str) -> bool:
        """Whether links i and j may show greens ``state_i`` and ``state_j`` at once."""
        r_ij = self.relation[i][j]
        if not r_ij & FOE:
            return True
        if r_ij & HARD:
            return False
        return bool(
            (r_ij & YIELDS and state_i in PERMISSIVE_CHARS)
            or (self.relation[j][i] & YIELDS and state_j in PERMISSIVE_CHARS)
        )

    def conflicting_greens(self, state: str) -> list[tuple[int, int]]:
        """Pairs (i, j), i < j, that ``state`` shows green together but may not."""
        greens = [i for i, c in enumerate(state) if c in GREEN_CHARS]
        green = frozenset(greens)
        bad = []
        for i in greens:
            for j in self._foes[i]:  # only foes can conflict; each pair once (i < j)
                if j > i and j in green and not self.compatible(i, state[i], j, state[j]):
                    bad.append((i, j))
        return bad

    def foes_of(self, i: int) -> tuple[int, ...]:
        """Links other than i whose paths cross or merge with link i."""
        return self._foes[i]

    def blockers_of(self, i: int, state_i: str) -> tuple[int, ...]:
        """Foes of link i that can keep it from showing green ``state_i``: those it may not
        show that green beside while they show a protected one (their clearance matters)."""
        return self._blockers[i][state_i in PERMISSIVE_CHARS]

    def blocker_yields(self, i: int, state_i: str) -> tuple[frozenset[str], ...]:
        """Per blocker of link i showing ``state_i`` (as :meth:`blockers_of` lists them), the
        permissive greens (``g``/``s``) of that blocker i may show its green beside."""
        key = (i, state_i in PERMISSIVE_CHARS)
        found = self._yields.get(key)
        if found is None:
            found = self._yields[key] = tuple(
                frozenset(x for x in PERMISSIVE_CHARS if self.compatible(i, state_i, j, x))
                for j in self.blockers_of(i, state_i)
            )
        return found

    @property
    def max_clearance_s(self) -> float:
        """Longest red/pedestrian clearance of any link (s)."""
        return max((t.clearance_s for t in self.timings), default=0.0)
