"""Timings of a NEMA phase, and ones derived from the intersection model's safety timings.

A virtual controller's phase timings are never shorter than what the model requires of every
link the phase drives (its own links, the overlaps it parents, its crosswalks), so the
controller's own intervals are a second line behind the guard, not a weaker one.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearway.signals.model import Intersection
from clearway.signals.nema import PhaseMap


@dataclass(frozen=True)
class PhaseTimings:
    """Timings of one NEMA phase (all in s)."""

    min_green_s: float
    passage_s: float
    max_green_s: float
    yellow_s: float
    red_clear_s: float
    walk_s: float = 0.0
    ped_clear_s: float = 0.0


def phase_timings_from_model(
    pm: PhaseMap,
    model: Intersection,
    *,
    passage_s: float = 2.0,
    max_green_s: float = 40.0,
    walk_s: float = 7.0,
) -> dict[int, PhaseTimings]:
    """Timings per phase that satisfy the model's safety timings of every link the phase
    drives, the overlaps it parents and its crosswalks (the strictest link decides)."""
    out = {}
    for p in pm.phases:
        vehicle = set(p.links)
        for o in pm.overlaps:
            if p.number in o.parents:
                vehicle |= o.links
        ts = [model.timings[i] for i in vehicle if 0 <= i < model.link_count]
        peds = [model.timings[i] for i in p.ped_links if 0 <= i < model.link_count]
        min_green = max((t.min_green_s for t in ts), default=5.0)
        out[p.number] = PhaseTimings(
            min_green_s=min_green,
            passage_s=passage_s,
            max_green_s=max(max_green_s, min_green),
            yellow_s=max((t.yellow_s for t in ts), default=3.0),
            red_clear_s=max((t.clearance_s for t in ts), default=1.0),
            walk_s=walk_s if peds else 0.0,
            ped_clear_s=max((t.clearance_s for t in peds), default=0.0),
        )
    return out


__all__ = ["PhaseTimings", "phase_timings_from_model"]
