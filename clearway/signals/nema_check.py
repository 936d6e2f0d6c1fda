"""Is a NEMA phase map safe and complete for its intersection? (:func:`check_phase_map`)

A phase map written by an engineer (a junction config) or derived from a program must drive
every signalised link from exactly one phase or overlap, keep its ring and barrier structure
consistent, and never let two things green at once that the intersection model forbids
together: phases of different rings in one barrier group, a phase's own links, an overlap with
every phase that may be green beside one of its parents, and the walks of all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import combinations

from clearway.signals.model import Intersection
from clearway.signals.nema import (
    MAX_OVERLAPS,
    MAX_PHASES,
    MAX_RINGS,
    PhaseMap,
    SignalLinkLike,
)

#: A green "driver" of links: (label, phase numbers it is green with, {link: state char}).
_Driver = tuple[str, frozenset[int], dict[int, str]]


def check_phase_map(
    pm: PhaseMap,
    model: Intersection,
    *,
    links: Iterable[SignalLinkLike] | None = None,
    never_green: Iterable[int] = (),
) -> list[str]:
    """Every mismatch between ``pm`` and the intersection ``model``, one message each.

    Parameters
    ----------
    pm
        The phase map to check.
    model
        The intersection model of the same traffic light.
    links
        Its network links, to name link indices by their from→to lanes in the messages.
    never_green
        Links no program shows green (see :func:`~clearway.signals.nema.never_green_links`);
        like ``model.fixed_off`` they need no phase.

    Returns
    -------
    list[str]
        Empty when the map is sound; else each message names the signal, the phases or
        overlaps and the link indices involved.
    """
    names: dict[int, str] = {}
    for lk in links or ():
        names.setdefault(lk.signal_index, f"{lk.from_lane}→{lk.to_lane}")
    sid = pm.signal_id
    out: list[str] = []

    def link(i: int) -> str:
        return f"link {i} ({names[i]})" if i in names else f"link {i}"

    if sid != model.signal_id:
        out.append(f"signal {sid!r}: the phase map is checked against signal {model.signal_id!r}")
    if pm.link_count != model.link_count:
        out.append(f"signal {sid!r}: the phase map has {pm.link_count} links, the intersection "
                   f"{model.link_count}")  # fmt: skip
    n = model.link_count
    out += _numbers(pm)
    out += _ranges(pm, n, link)
    out += _crossings(pm, model, link)
    out += _coverage(pm, model, frozenset(never_green), link)
    out += _structure(pm)
    out += _conflicts(pm, model, link)
    return out


def _numbers(pm: PhaseMap) -> list[str]:
    sid, out = pm.signal_id, []
    seen: set[int] = set()
    for p in pm.phases:
        if not 1 <= p.number <= MAX_PHASES:
            out.append(f"signal {sid!r}: phase {p.number} is out of range 1..{MAX_PHASES}")
        if not 1 <= p.ring <= MAX_RINGS:
            out.append(f"signal {sid!r}: phase {p.number} is in ring {p.ring}, out of range "
                       f"1..{MAX_RINGS}")  # fmt: skip
        if p.number in seen:
            out.append(f"signal {sid!r}: phase {p.number} is defined twice")
        seen.add(p.number)
    seen_o: set[int] = set()
    for o in pm.overlaps:
        if not 1 <= o.number <= MAX_OVERLAPS:
            out.append(f"signal {sid!r}: overlap {o.number} is out of range 1..{MAX_OVERLAPS}")
        if o.number in seen_o:
            out.append(f"signal {sid!r}: overlap {o.number} is defined twice")
        seen_o.add(o.number)
        if not o.parents:
            out.append(f"signal {sid!r}: overlap {o.number} has no parent phase")
        for q in sorted(o.parents - pm.numbers):
            out.append(f"signal {sid!r}: overlap {o.number} has unknown parent phase {q}")
    return out


def _ranges(pm: PhaseMap, n: int, link: Callable[[int], str]) -> list[str]:
    sid, out = pm.signal_id, []
    for kind, num, field, idx in _all_link_sets(pm):
        for i in sorted(x for x in idx if not 0 <= x < n):
            out.append(
                f"signal {sid!r}: {kind} {num} {field} has link {i}, out of range 0..{n - 1}"
            )
    for kind, num, links, permissive in [
        ("phase", p.number, p.links, p.permissive) for p in pm.phases
    ] + [("overlap", o.number, o.links, o.permissive) for o in pm.overlaps]:
        for i in sorted(permissive - links):
            out.append(f"signal {sid!r}: {kind} {num} lists {link(i)} as permissive but does not "
                       "drive it; add it to links")  # fmt: skip
    return out


def _all_link_sets(pm: PhaseMap) -> Iterator[tuple[str, int, str, frozenset[int]]]:
    for p in pm.phases:
        yield "phase", p.number, "links", p.links
        yield "phase", p.number, "permissive", p.permissive
        yield "phase", p.number, "ped_links", p.ped_links
    for o in pm.overlaps:
        yield "overlap", o.number, "links", o.links
        yield "overlap", o.number, "permissive", o.permissive


def _crossings(pm: PhaseMap, model: Intersection, link: Callable[[int], str]) -> list[str]:
    sid, n, out = pm.signal_id, model.link_count, []
    crossing = model.is_crossing
    for p in pm.phases:
        for i in sorted(i for i in p.ped_links if 0 <= i < n and not crossing[i]):
            out.append(f"signal {sid!r}: phase {p.number} has {link(i)} in ped_links but it is "
                       "not a pedestrian crossing; move it to links")  # fmt: skip
    for kind, num, field, idx in _all_link_sets(pm):
        if field == "links":
            for i in sorted(i for i in idx if 0 <= i < n and crossing[i]):
                out.append(f"signal {sid!r}: {kind} {num} drives pedestrian crossing {link(i)} as "
                           "a vehicle link; list it in a phase's ped_links")  # fmt: skip
    return out


def _coverage(
    pm: PhaseMap, model: Intersection, never_green: frozenset[int], link: Callable[[int], str]
) -> list[str]:
    sid, out = pm.signal_id, []
    drivers: dict[int, list[str]] = {}
    rings_of: dict[int, list[int]] = {}
    for p in pm.phases:
        for i in p.links:
            drivers.setdefault(i, []).append(f"phase {p.number}")
            rings_of.setdefault(i, []).append(p.ring)
    for o in pm.overlaps:
        for i in o.links:
            drivers.setdefault(i, []).append(f"overlap {o.number}")
    driven = set(drivers) | {i for p in pm.phases for i in p.ped_links}
    for i in range(model.link_count):
        if i not in driven and i not in model.fixed_off and i not in never_green:
            out.append(f"signal {sid!r}: {link(i)} is driven by no phase or overlap; add it to one")
    for i, who in sorted(drivers.items()):
        if len(who) > 1:
            rings = rings_of.get(i, [])
            where = " of one ring" if len(rings) != len(set(rings)) else ""
            out.append(f"signal {sid!r}: {link(i)} is driven by {' and '.join(who)}{where}; a "
                       "link has one driver (use an overlap for a link green in several phases)")  # fmt: skip
    return out


def _structure(pm: PhaseMap) -> list[str]:
    sid, out = pm.signal_id, []
    ring_of = {p.number: p.ring for p in pm.phases}
    listed: dict[int, int] = {}
    for r, seq in enumerate(pm.rings, start=1):
        for q in seq:
            if q not in ring_of:
                out.append(f"signal {sid!r}: ring {r} sequence has unknown phase {q}")
            elif ring_of[q] != r:
                out.append(f"signal {sid!r}: ring {r} sequence has phase {q}, which is in ring "
                           f"{ring_of[q]}")  # fmt: skip
            if q in listed:
                out.append(f"signal {sid!r}: phase {q} appears twice in the ring sequences")
            listed[q] = r
        groups = [pm.barrier_of(q) for q in seq]
        if any(b < a for a, b in zip(groups, groups[1:], strict=False) if a >= 0 and b >= 0):
            out.append(f"signal {sid!r}: ring {r} sequence {list(seq)} does not follow the "
                       "barrier order; each ring crosses the barriers in cycle order")  # fmt: skip
    for q in sorted(set(ring_of) - set(listed)):
        out.append(f"signal {sid!r}: phase {q} is in no ring sequence")
    count: dict[int, int] = {}
    for b, group in enumerate(pm.barriers, start=1):
        for q in sorted(group):
            if q not in ring_of:
                out.append(f"signal {sid!r}: barrier group {b} has unknown phase {q}")
            count[q] = count.get(q, 0) + 1
    for q in sorted(ring_of):
        if count.get(q, 0) == 0:
            out.append(f"signal {sid!r}: phase {q} is in no barrier group")
        elif count[q] > 1:
            out.append(
                f"signal {sid!r}: phase {q} is in {count[q]} barrier groups; it must be in one"
            )
    return out


def _conflicts(pm: PhaseMap, model: Intersection, link: Callable[[int], str]) -> list[str]:
    """Every pair of drivers that may be green together, checked link by link."""
    sid, n, out = pm.signal_id, model.link_count, []
    known = {p.number: p for p in pm.phases}
    drivers: list[_Driver] = []
    for p in pm.phases:
        shown = {i: "g" if i in p.permissive else "G" for i in p.links if 0 <= i < n}
        shown |= {i: "G" for i in p.ped_links if 0 <= i < n}
        drivers.append((f"phase {p.number}", frozenset({p.number}), shown))
    for o in pm.overlaps:
        shown = {i: "g" if i in o.permissive else "G" for i in o.links if 0 <= i < n}
        drivers.append((f"overlap {o.number}", o.parents & known.keys(), shown))

    def together(a: frozenset[int], b: frozenset[int]) -> bool:
        return bool(a & b) or any(pm.concurrent(x, y) for x in a for y in b)

    for label, _, shown in drivers:
        for (i, ci), (j, cj) in combinations(sorted(shown.items()), 2):
            if not model.compatible(i, ci, j, cj):
                out.append(f"signal {sid!r}: {label} shows {link(i)} ({ci}) and {link(j)} ({cj}) "
                           "green together, but they conflict")  # fmt: skip
    for (la, pa, sa), (lb, pb, sb) in combinations(drivers, 2):
        if not together(pa, pb):
            continue
        bad = [(i, j) for i, ci in sa.items() for j, cj in sb.items()
               if i != j and not model.compatible(i, ci, j, cj)]  # fmt: skip
        for i, j in sorted(bad)[:4]:
            out.append(f"signal {sid!r}: {la} and {lb} can be green together, but {link(i)} "
                       f"({sa[i]}) and {link(j)} ({sb[j]}) conflict")  # fmt: skip
    return out
