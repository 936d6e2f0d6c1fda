"""Build :class:`Intersection` models from a network: conflict matrix and safety timings.

Conflicts come from each junction's right-of-way data in the net file (``foes``/``response``):
two signal links are foes when any of their connections cross or merge; a foe pair may show
green together only when one of them is a permissive green that yields to the other, and only
if the junction's own programs ever show the pair green together (otherwise it is a hard
conflict: the engineer who wrote the programs never allowed it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from clearway.errors import UnknownJunctionError
from clearway.network.model import Link, Network, TrafficLight
from clearway.signals.model import GREEN_CHARS, OFF_CHARS, Intersection, LinkTimings, Relation
from clearway.signals.timings import (
    TimingOverride,
    apply_override,
    link_timings,
    load_overrides,
)


def build_intersections(
    net: Network,
    timing_file: str | Path | None = None,
    *,
    overrides: tuple[TimingOverride | None, Mapping[str, TimingOverride]] | None = None,
) -> dict[str, Intersection]:
    """Intersection models of every traffic light of ``net``, keyed by traffic-light id.

    Parameters
    ----------
    net
        The network.
    timing_file
        Optional TOML file of per-junction timing overrides (see :mod:`clearway.signals.timings`).
    overrides
        Already-parsed overrides ``(defaults, per_id)``, instead of ``timing_file``.
    """
    if timing_file is not None:
        overrides = load_overrides(timing_file)
    defaults, per_id = overrides if overrides is not None else (None, {})
    per_signal = _overrides_by_signal(net, per_id)
    return {
        tl_id: build_intersection(net, tl, defaults, per_signal.get(tl_id))
        for tl_id, tl in sorted(net.traffic_lights.items())
    }


def build_intersection(
    net: Network,
    tl: TrafficLight,
    defaults: TimingOverride | None = None,
    override: TimingOverride | None = None,
) -> Intersection:
    """The intersection model of one traffic light."""
    n = tl.link_count
    by_index: list[list[Link]] = [[] for _ in range(n)]
    for link in net.signal_links(tl.id):
        if 0 <= link.signal_index < n:
            by_index[link.signal_index].append(link)
    states = [p.state for prog in tl.programs.values() for p in prog.phases if len(p.state) == n]
    together = _green_together(states, n)
    relation = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            foe, i_yields, j_yields = _pair_relation(net, by_index[i], by_index[j])
            if not foe:
                continue
            hard = not (i_yields or j_yields) or (i, j) not in together
            base = Relation.FOE | (Relation.HARD if hard else 0)
            relation[i][j] = int(base | (Relation.YIELDS if i_yields else 0))
            relation[j][i] = int(base | (Relation.YIELDS if j_yields else 0))
    timings = tuple(_timings(tl.id, links, defaults, override) for links in by_index)
    fixed_off = frozenset(i for i in range(n) if states and all(s[i] in OFF_CHARS for s in states))
    return Intersection(
        signal_id=tl.id,
        junction_ids=tl.junction_ids,
        relation=tuple(tuple(row) for row in relation),
        timings=timings,
        is_crossing=tuple(bool(links) and all(lk.is_crossing for lk in links) for links in by_index),
        fixed_off=fixed_off,
    )


def _pair_relation(net: Network, links_i: list[Link], links_j: list[Link]) -> tuple[bool, bool, bool]:
    """(foes?, i yields to j on every conflict?, j yields to i on every conflict?)."""
    foe = False
    i_yields = j_yields = True
    for a in links_i:
        for b in links_j:
            if a.junction_id != b.junction_id or a.junction_index < 0 or b.junction_index < 0:
                continue
            junction = net.junctions[a.junction_id]
            if not (
                junction.are_foes(a.junction_index, b.junction_index)
                or junction.are_foes(b.junction_index, a.junction_index)
            ):
                continue
            foe = True
            i_yields &= junction.must_yield(a.junction_index, b.junction_index)
            j_yields &= junction.must_yield(b.junction_index, a.junction_index)
    return foe, foe and i_yields, foe and j_yields


def _green_together(states: Iterable[str], n: int) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for s in set(states):
        greens = [i for i in range(n) if s[i] in GREEN_CHARS]
        pairs.update((i, j) for a, i in enumerate(greens) for j in greens[a + 1 :])
    return pairs


def _timings(
    tl_id: str, links: list[Link], defaults: TimingOverride | None, override: TimingOverride | None
) -> LinkTimings:
    if not links:
        # A state character that drives no connection: nothing can conflict with it, but keep
        # the usual change interval so a controller treats it like any other link.
        return LinkTimings(5.0, 3.0, 1.0)
    per_link = []
    for link in links:
        t = link_timings(link)
        for ov, label in ((defaults, "[defaults]"), (override, f"[junction.\"{tl_id}\"]")):
            if ov is not None:
                t = apply_override(link, t, ov, f"timing override {label}")
        per_link.append(t)
    # Several connections on one signal index: the strictest timing of any of them holds.
    return LinkTimings(
        max(t.min_green_s for t in per_link),
        max(t.yellow_s for t in per_link),
        max(t.clearance_s for t in per_link),
    )


def _overrides_by_signal(net: Network, per_id: Mapping[str, TimingOverride]) -> dict[str, TimingOverride]:
    out: dict[str, TimingOverride] = {}
    junction_to_signal = {j: tl.id for tl in net.traffic_lights.values() for j in tl.junction_ids}
    for key, ov in per_id.items():
        if key in net.traffic_lights:
            out[key] = ov
        elif key in junction_to_signal:
            out[junction_to_signal[key]] = ov
        else:
            known = list(net.traffic_lights) + list(junction_to_signal)
            raise UnknownJunctionError(key, known, where="the timing overrides (not a signalised junction)")
    return out
