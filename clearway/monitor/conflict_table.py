"""The monitor's own conflict knowledge, derived from the raw right-of-way data of the net file.

Deliberately not shared with the guard's intersection model (``clearway.signals``): a conflict
monitor is only worth having if it can disagree with what it checks.
"""

from __future__ import annotations

from clearway.network.model import Junction, Link, Network, TrafficLight

# Own character classes, on purpose not imported from ``clearway.signals.model`` (independence).
GREEN = frozenset("Ggs")
PERMISSIVE = frozenset("gs")
YELLOW = frozenset("yY")  # Y: SUMO's yellow for a major link
RED = frozenset("ru")  # u = red+yellow: still red, nobody may enter
OFF = frozenset("oO")
KNOWN = GREEN | YELLOW | RED | OFF

# Aspect classes; durations run per class, so G <-> g or r <-> u do not restart a clock.
A_GREEN, A_YELLOW, A_RED, A_OFF = 0, 1, 2, 3
ASPECT = {c: A_GREEN for c in GREEN} | {c: A_YELLOW for c in YELLOW} | {c: A_RED for c in RED}
ASPECT |= {c: A_OFF for c in OFF}
ASPECT_NAME = ("green", "yellow", "red", "off")

# How a foe pair (i, j) may be green together, seen from i: bit 1 = while i shows a permissive
# green (i yields to j and the programs allow the pair), bit 2 = while j shows one. 0 = never.
I_MAY_YIELD = 1
J_MAY_YIELD = 2


class ConflictTable:
    """Per traffic light: foes of each signal index and when a foe pair may share a green.

    Built once from the raw junction data; ``foes[i]`` maps every foe ``j`` of ``i`` to the
    ``I_MAY_YIELD``/``J_MAY_YIELD`` bits of that pair (0: a hard conflict).
    """

    __slots__ = ("foes",)

    def __init__(self, net: Network, tl: TrafficLight) -> None:
        n = tl.link_count
        by_index: list[list[tuple[Junction, Link]]] = [[] for _ in range(n)]
        for link in net.signal_links(tl.id):
            if 0 <= link.signal_index < n and link.junction_index >= 0:
                junction = net.junctions.get(link.junction_id)
                if junction is not None:
                    by_index[link.signal_index].append((junction, link))
        together = _green_together(tl, n)

        foes: list[dict[int, int]] = [{} for _ in range(n)]
        for i in range(n):
            for j in range(i + 1, n):
                yields_ij, yields_ji = _yield_relation(by_index[i], by_index[j])
                if yields_ij is None:
                    continue  # no connection of i crosses or merges with one of j
                # A pair the engineer never let be green together in any of the light's own
                # programs is a hard conflict, whatever the right-of-way bits say.
                seen_together = bool(together[i] >> j & 1)
                mode_ij = 0
                if seen_together and yields_ij:
                    mode_ij |= I_MAY_YIELD
                if seen_together and yields_ji:
                    mode_ij |= J_MAY_YIELD
                foes[i][j] = mode_ij
                # The same pair seen from j: the two bits swap roles.
                mode_ji = 0
                if mode_ij & I_MAY_YIELD:
                    mode_ji |= J_MAY_YIELD
                if mode_ij & J_MAY_YIELD:
                    mode_ji |= I_MAY_YIELD
                foes[j][i] = mode_ji
        self.foes: tuple[dict[int, int], ...] = tuple(foes)


def _yield_relation(
    links_i: list[tuple[Junction, Link]], links_j: list[tuple[Junction, Link]]
) -> tuple[bool | None, bool]:
    """Whether i yields to j, and j to i, on *every* conflicting connection pair.

    Returns ``(None, False)`` when no connection of i is a foe of one of j.
    """
    any_foe = False
    yields_ij = yields_ji = True
    for junction, a in links_i:
        for other, b in links_j:
            if other.id != junction.id:
                continue  # links of different junctions never share conflict area
            ia, ib = a.junction_index, b.junction_index
            # foes is symmetric in a sane net file; checking both directions costs nothing and
            # keeps a one-sided bit from hiding a conflict.
            if not (junction.are_foes(ia, ib) or junction.are_foes(ib, ia)):
                continue
            any_foe = True
            yields_ij = yields_ij and junction.must_yield(ia, ib)
            yields_ji = yields_ji and junction.must_yield(ib, ia)
    if not any_foe:
        return None, False
    return yields_ij, yields_ji


def _green_together(tl: TrafficLight, n: int) -> list[int]:
    """Per signal index, a bit mask of the indices some program phase shows green with it."""
    together = [0] * n
    for program in tl.programs.values():
        for phase in program.phases:
            if len(phase.state) != n:
                continue  # a malformed phase says nothing trustworthy about what is allowed
            greens = [i for i, c in enumerate(phase.state) if c in GREEN]
            mask = sum(1 << i for i in greens)
            for i in greens:
                together[i] |= mask
    return together


def compatible(mode: int, c_i: str, c_j: str) -> bool:
    """Whether foes i, j (pair ``mode`` seen from i) may show greens ``c_i`` and ``c_j`` at once."""
    return bool(
        (mode & I_MAY_YIELD and c_i in PERMISSIVE) or (mode & J_MAY_YIELD and c_j in PERMISSIVE)
    )
