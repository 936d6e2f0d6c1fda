"""Where people come to cross: signalised crossings, the walking areas at their ends, and the
sidewalk stretches leading to those walking areas.

A SUMO crossing is driven by one signal link, from the walking area at the start of the
crossing's shape onto the crossing; people walking the other way come from the walking area
at its far end (SUMO records that end as the crossing's exit, which is no signal link).
People reach a walking area along the sidewalks that meet it -- the incoming road's sidewalk
at its end and the outgoing road's at its start, since people walk both ways on a sidewalk.
Those stretches (:data:`APPROACH_M` long) are where clearway's pedestrian detectors lie
(:mod:`clearway.sim.pedestrians` writes them, :mod:`clearway.control.ped_calls` uses their
counts): SUMO's lane-area detectors count people walking along a sidewalk, but not people
standing on a walking area waiting for the walk. Only counts are ever read, never who.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from clearway.network.model import Network

__all__ = ["APPROACH_M", "SidewalkApproach", "crossing_areas", "sidewalk_approaches"]

#: Length of the sidewalk stretch watched before a walking area (m): about 15 s of walking,
#: so a detector read every few seconds sees everyone who comes.
APPROACH_M = 20.0
#: A sidewalk meets a walking area when its end lies this close to the area's outline (m).
_TOUCH_M = 0.5


@dataclass(frozen=True, slots=True)
class SidewalkApproach:
    """A watched stretch of sidewalk leading to a walking area at a signalised crossing.

    Attributes
    ----------
    approach_id
        ``<lane id>@end`` or ``<lane id>@start``: which lane, and which end of it meets the
        walking area (a detector's id is clearway's prefix and this).
    lane_id
        The sidewalk lane.
    area_id
        The walking-area edge it leads to.
    begin_m, end_m
        The stretch along the lane (m from the lane's start).
    """

    approach_id: str
    lane_id: str
    area_id: str
    begin_m: float
    end_m: float


def crossing_areas(net: Network) -> Mapping[str, Mapping[int, tuple[str, ...]]]:
    """Per signal id, per crossing link index: the walking-area edge ids at its two ends.

    The near end is the link's own ``from_edge``; the far end is the walking area of the same
    junction whose outline comes closest to the end of the crossing's centre line (netconvert
    draws the crossing from one walking area's corner to the other's). A crossing with no
    other walking area in its junction has its near end only.
    """
    out: dict[str, dict[int, tuple[str, ...]]] = {}
    areas_of = _areas_by_junction(net)
    for link in net.links:
        if not link.is_crossing or link.signal_id is None or link.signal_index < 0:
            continue
        near = link.from_edge
        shape = net.lane(link.to_lane).shape
        others = [a for a in areas_of.get(link.junction_id, ()) if a != near]
        ends: tuple[str, ...] = (near,)
        if shape and others:
            x, y = shape[-1]
            ends = (near, min(others, key=lambda a: (_distance_m(net, a, x, y), a)))
        out.setdefault(link.signal_id, {})[link.signal_index] = ends
    return out


def sidewalk_approaches(net: Network, length_m: float = APPROACH_M) -> tuple[SidewalkApproach, ...]:
    """Every sidewalk stretch leading to a walking area at a signalised crossing, sorted.

    A sidewalk is a lane of a road edge that allows pedestrians only; it leads to a walking
    area of its edge's end junction when its last point touches the area's outline, of its
    start junction when its first point does.
    """
    wanted = {a for per in crossing_areas(net).values() for ends in per.values() for a in ends}
    areas_of = _areas_by_junction(net)
    out = []
    for edge in net.edges.values():
        if not edge.is_normal:
            continue
        for lane_id in edge.lane_ids:
            lane = net.lane(lane_id)
            if lane.allowed != {"pedestrian"} or not lane.shape:
                continue
            span = min(length_m, lane.length_m)
            for junction, (x, y), at_end in (
                (edge.to_junction, lane.shape[-1], True),
                (edge.from_junction, lane.shape[0], False),
            ):
                near = [a for a in areas_of.get(junction, ()) if a in wanted]
                touching = [a for a in near if _distance_m(net, a, x, y) <= _TOUCH_M]
                if not touching:
                    continue
                area = min(touching, key=lambda a: (_distance_m(net, a, x, y), a))
                begin, end = (lane.length_m - span, lane.length_m) if at_end else (0.0, span)
                tag = "end" if at_end else "start"
                out.append(SidewalkApproach(f"{lane_id}@{tag}", lane_id, area, begin, end))
    return tuple(sorted(out, key=lambda a: a.approach_id))


def _areas_by_junction(net: Network) -> dict[str, list[str]]:
    areas: dict[str, list[str]] = {}
    for edge in net.edges.values():
        if edge.function == "walkingarea":
            areas.setdefault(edge.to_junction, []).append(edge.id)
    return areas


def _distance_m(net: Network, edge_id: str, x: float, y: float) -> float:
    """Distance from (x, y) to the nearest point of the walking area's outline (m)."""
    best = math.inf
    for lane_id in net.edge(edge_id).lane_ids:
        pts = net.lane(lane_id).shape
        for (ax, ay), (bx, by) in zip(pts, (*pts[1:], pts[0]), strict=True):
            best = min(best, _segment_distance_m(x, y, ax, ay, bx, by))
    return best


def _segment_distance_m(x: float, y: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    span = dx * dx + dy * dy
    t = 0.0 if span == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / span))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))
