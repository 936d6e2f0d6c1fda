"""A dual-ring NEMA phase map derived from a SUMO program (:func:`derive_phase_map`).

Each green service phase of the program becomes a barrier group; a group whose links come from
two approaches that may all be green together is split over ring 1 and ring 2; a link green in
several service phases is driven by an overlap of the phases that drive it there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from clearway.signals.model import GREEN_CHARS, PERMISSIVE_CHARS, Intersection
from clearway.signals.nema import (
    MAX_OVERLAPS,
    MAX_PHASES,
    NemaError,
    NemaPhase,
    Overlap,
    PhaseMap,
    SignalLinkLike,
    service_states,
)

if TYPE_CHECKING:  # only for annotations: signals reads programs, never loads networks
    from clearway.network.model import SignalProgram


def derive_phase_map(
    model: Intersection, program: SignalProgram, links: Iterable[SignalLinkLike] | None = None
) -> PhaseMap:
    """A dual-ring NEMA structure that shows ``program``'s green service phases.

    Each green service phase becomes a barrier group. Inside it, the green links are split into
    a ring-1 and a ring-2 phase when they come from exactly two approach edges that may all be
    green together (true dual-ring concurrency, e.g. the north and south approaches of a
    two-phase junction), else they form one ring-1 phase. A vehicle link green in more than one
    service phase becomes an overlap of the phases driving it there; crossings green in a
    service phase become the ring-1 phase's ``ped_links``. Phases are numbered NEMA style:
    barrier group g's ring-1 phase is g+1 and its ring-2 phase g+5 for the first four groups,
    later ones take 9..16 in order.

    Parameters
    ----------
    model
        The traffic light's intersection model.
    program
        One of its :class:`~clearway.network.model.SignalProgram`.
    links
        The network links of this traffic light (their ``from_edge`` tells the approaches);
        without them no group is split into two rings.

    Raises
    ------
    NemaError
        If the program has no green phase, or needs more than 16 phases or overlaps.
    """
    sid = model.signal_id
    states = service_states(model, program)
    if not states:
        raise NemaError(f"signal {sid!r}: program {program.program_id!r} has no green phase "
                        "to map to NEMA phases")  # fmt: skip
    edges: dict[int, set[str]] = {}
    for lk in links or ():
        if getattr(lk, "signal_id", sid) == sid and lk.signal_index >= 0:
            edges.setdefault(lk.signal_index, set()).add(lk.from_edge)
    try:
        return _derive(model, states, edges)
    except NemaError:
        if not edges:
            raise
    # Too many phases with two rings: one ring needs only one phase per barrier group.
    return _derive(model, states, {})


def program_groups(model: Intersection, program: SignalProgram) -> list[tuple[int, ...]]:
    """Indices into :func:`~clearway.signals.nema.service_states` of each barrier group that
    :func:`derive_phase_map` makes: consecutive service phases whose vehicle links show the same
    state (they differ only in crossings, e.g. a walk that ends before the vehicle green) are one
    group, their crossings its walk."""
    return [members for _, _, members in _groups(model, service_states(model, program))]


def _groups(
    model: Intersection, states: list[str]
) -> list[tuple[str, frozenset[int], tuple[int, ...]]]:
    """(vehicle state with crossings red, crossings green in any member, member indices)."""
    crossing = model.is_crossing
    out: list[tuple[str, frozenset[int], tuple[int, ...]]] = []
    for k, s in enumerate(states):
        vehicle = "".join("r" if crossing[i] else c for i, c in enumerate(s))
        peds = frozenset(i for i, c in enumerate(s) if crossing[i] and c in GREEN_CHARS)
        if out and out[-1][0] == vehicle:
            out[-1] = (vehicle, out[-1][1] | peds, (*out[-1][2], k))
        else:
            out.append((vehicle, peds, (k,)))
    if len(out) > 1 and out[0][0] == out[-1][0]:  # the cycle wraps: last and first are one group
        last = out.pop()
        out[0] = (last[0], last[1] | out[0][1], (*last[2], *out[0][2]))
    return out


def _derive(model: Intersection, states: list[str], edges: dict[int, set[str]]) -> PhaseMap:
    sid = model.signal_id
    groups = _groups(model, states)
    green_in = [{i for i, c in enumerate(v) if c in GREEN_CHARS} for v, _, _ in groups]
    times_green = [sum(i in g for g in green_in) for i in range(model.link_count)]
    numbers = _Numbers(sid)
    phases: list[NemaPhase] = []
    rings: list[list[int]] = [[], []]
    barriers: list[frozenset[int]] = []
    phase_at: list[dict[int, int]] = []  # per group: link -> phase number driving it there
    for g, ((state, peds, _), green) in enumerate(zip(groups, green_in, strict=True)):
        sides = _split(model, state, green, edges)
        group: list[int] = []
        at: dict[int, int] = {}
        for r, side in enumerate(sides):
            n = numbers.take(g, r)
            own = frozenset(i for i in side if times_green[i] == 1)
            phases.append(NemaPhase(
                number=n, ring=r + 1, links=own,
                permissive=frozenset(i for i in own if state[i] in PERMISSIVE_CHARS),
                ped_links=peds if r == 0 else frozenset(),
            ))  # fmt: skip
            rings[r].append(n)
            group.append(n)
            at.update(dict.fromkeys(side, n))
        barriers.append(frozenset(group))
        phase_at.append(at)
    overlaps = _overlaps(sid, [v for v, _, _ in groups], phase_at, times_green)
    return PhaseMap(sid, model.link_count, tuple(sorted(phases, key=lambda p: p.number)), overlaps,
                    tuple(tuple(r) for r in rings if r), tuple(barriers))  # fmt: skip


def _split(
    model: Intersection, state: str, green: set[int], edges: dict[int, set[str]]
) -> list[frozenset[int]]:
    """The green vehicle links of one group as one ring-1 side, or two concurrent sides."""
    by_edge: dict[str, set[int]] = {}
    for i in green:
        e = edges.get(i, set())
        if len(e) != 1:  # unknown, or one signal index driving lanes of two approaches
            return [frozenset(green)]
        by_edge.setdefault(next(iter(e)), set()).add(i)
    if len(by_edge) != 2:
        return [frozenset(green)]
    a, b = sorted(by_edge.values(), key=min)
    if all(model.compatible(i, state[i], j, state[j]) for i in a for j in b):
        return [frozenset(a), frozenset(b)]
    return [frozenset(green)]


class _Numbers:
    """NEMA-style phase numbers: group g < 4 gets g+1 (ring 1) and g+5 (ring 2), later 9..16."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.spare = iter(range(9, MAX_PHASES + 1))

    def take(self, group: int, ring_index: int) -> int:
        if group < 4:
            return group + 1 + 4 * ring_index
        n = next(self.spare, None)
        if n is None:
            raise NemaError(
                f"signal {self.sid!r} needs more than {MAX_PHASES} NEMA phases (its program has "
                f"too many green phases); map it by hand in the junction config"
            )
        return n


def _overlaps(
    sid: str, states: list[str], phase_at: list[dict[int, int]], times_green: list[int]
) -> tuple[Overlap, ...]:
    parents_of: dict[frozenset[int], list[int]] = {}
    permissive: set[int] = set()
    for i, count in enumerate(times_green):
        if count < 2:
            continue
        parents = frozenset(at[i] for at in phase_at if i in at)
        parents_of.setdefault(parents, []).append(i)
        if any(
            i in at and s[i] in PERMISSIVE_CHARS for s, at in zip(states, phase_at, strict=True)
        ):
            permissive.add(i)  # 'g' in any parent: showing it protected could be unsafe
    if len(parents_of) > MAX_OVERLAPS:
        raise NemaError(f"signal {sid!r} needs {len(parents_of)} overlaps, more than "
                        f"{MAX_OVERLAPS}; map it by hand in the junction config")  # fmt: skip
    groups = sorted(parents_of.items(), key=lambda kv: min(kv[1]))
    return tuple(
        Overlap(k + 1, parents, frozenset(ls), frozenset(ls) & frozenset(permissive))
        for k, (parents, ls) in enumerate(groups)
    )
