"""What a loaded network contains, and what in it would confuse signal control.

:func:`network_summary` gives counts for ``clearway network info`` and logs;
:func:`network_problems` lists inconsistencies between the signal programs and the links they
drive, each as a sentence naming the ids involved, so an engineer can fix the net file.
"""

from __future__ import annotations

from typing import Any

from clearway.network.model import Network, TrafficLight

__all__ = ["network_problems", "network_summary"]


def network_summary(net: Network) -> dict[str, Any]:
    """Counts describing ``net``.

    Returns
    -------
    dict
        ``junctions`` (SUMO's internal junctions are not loaded), ``signalised_junctions``,
        ``traffic_lights``, ``edges`` and ``lanes`` (of normal road edges only), ``links``,
        ``signalised_links``, ``crossings`` (pedestrian crossings), ``crossing_links``,
        ``has_geo`` (lon/lat conversion available) and ``bounds_m``
        (x_min, y_min, x_max, y_max in network metres).
    """
    normal_edges = [e for e in net.edges.values() if e.is_normal]
    return {
        "junctions": len(net.junctions),
        "signalised_junctions": len(net.signalised_junction_ids),
        "traffic_lights": len(net.traffic_lights),
        "edges": len(normal_edges),
        "lanes": sum(len(e.lane_ids) for e in normal_edges),
        "links": len(net.links),
        "signalised_links": sum(1 for lk in net.links if lk.signal_id is not None),
        "crossings": sum(1 for e in net.edges.values() if e.function == "crossing"),
        "crossing_links": sum(1 for lk in net.links if lk.is_crossing),
        "has_geo": net.geo is not None,
        "bounds_m": net.bounds_m,
    }


def network_problems(net: Network) -> list[str]:
    """Inconsistencies that matter for signal control, one sentence each (empty if none).

    Checked: traffic lights without programs, phases of zero or negative duration, state
    strings whose length differs from the light's link count, state positions that drive no
    link, signalised links without a row in their junction's right-of-way matrix, and
    junctions whose matrix size differs from their number of links.
    """
    problems: list[str] = []
    for tl in sorted(net.traffic_lights.values(), key=lambda t: t.id):
        problems.extend(_program_problems(tl))
        problems.extend(_undriven_indices(net, tl))
    problems.extend(_links_without_matrix_row(net))
    problems.extend(_matrix_size_mismatches(net))
    return problems


def _program_problems(tl: TrafficLight) -> list[str]:
    if not tl.programs:
        return [f"traffic light {tl.id!r} has no signal program"]
    found = []
    for program in tl.programs.values():
        where = f"traffic light {tl.id!r} program {program.program_id!r}"
        if not program.phases:
            found.append(f"{where} has no phases")
        for k, phase in enumerate(program.phases):
            if phase.duration_s <= 0:
                found.append(f"{where} phase {k} lasts {phase.duration_s} s (must be > 0)")
            if len(phase.state) != tl.link_count:
                found.append(
                    f"{where} phase {k} state has {len(phase.state)} characters, "
                    f"but the light drives {tl.link_count} links"
                )
    return found


def _undriven_indices(net: Network, tl: TrafficLight) -> list[str]:
    # A character that drives no link is harmless to SUMO but means the program and the
    # junction were edited apart; a controller would be planning greens for nothing.
    driven = {lk.signal_index for lk in net.signal_links(tl.id)}
    unused = [i for i in range(tl.link_count) if i not in driven]
    if not unused:
        return []
    return [f"traffic light {tl.id!r}: state positions {_ranges(unused)} drive no link"]


def _links_without_matrix_row(net: Network) -> list[str]:
    bad = [lk for lk in net.links if lk.signal_id is not None and lk.junction_index < 0]
    return [
        f"link {lk.from_lane} -> {lk.to_lane} (traffic light {lk.signal_id!r} index "
        f"{lk.signal_index}) has no row in junction {lk.junction_id!r}'s right-of-way matrix; "
        "its conflicts are unknown"
        for lk in bad
    ]


def _matrix_size_mismatches(net: Network) -> list[str]:
    counts: dict[str, int] = {}
    for lk in net.links:
        if lk.junction_index >= 0:
            counts[lk.junction_id] = max(counts.get(lk.junction_id, 0), lk.junction_index + 1)
    found = []
    for junction_id in sorted(counts):
        junction = net.junctions.get(junction_id)
        rows = len(junction.foes) if junction else 0
        # Junctions without any <request> (e.g. dead ends) legitimately have no matrix.
        if rows and rows < counts[junction_id]:
            found.append(
                f"junction {junction_id!r} has {counts[junction_id]} links but its right-of-way "
                f"matrix has only {rows} rows"
            )
    return found


def _ranges(indices: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``: compact for long state strings."""
    parts: list[str] = []
    start = prev = indices[0]
    for i in indices[1:]:
        if i != prev + 1:
            parts.append(_span(start, prev))
            start = i
        prev = i
    parts.append(_span(start, prev))
    return ", ".join(parts)


def _span(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}-{end}"
