"""Lane-area detectors (E2) at the stop lines of signalised junctions: the twin's eyes.

They give what real detectors give a traffic controller — per-lane counts, queue length,
occupancy, speed — and nothing about individual vehicles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import quoteattr

from clearway.errors import ConfigError
from clearway.network import Network
from clearway.network.model import Link
from clearway.sim.files import staging

#: Prefix of the ids of the lane-area detectors clearway places (``cw_<lane id>``).
DETECTOR_PREFIX = "cw_"
#: Longest lane-area detector placed upstream of a stop line (m): covers queues that matter
#: for control without double-counting the previous junction's discharge on short blocks.
DETECTOR_LENGTH_M = 80.0
#: Version of the detector layout (part of cache keys): 2 = detectors reach back over the
#: lanes leading to a short approach lane.
LAYOUT_VERSION = 2


def detector_lanes(net: Network) -> list[tuple[str, float]]:
    """(lane id, lane length in m) of every normal lane entering a signalised junction.

    Sorted by lane id, so detector order (and the twin's TrafficState arrays) is stable.
    """
    lanes: set[str] = set()
    for tl_id in net.traffic_lights:
        for link in net.signal_links(tl_id):
            if link.is_crossing or link.from_lane.startswith(":"):
                continue
            lane = net.lane(link.from_lane)
            if net.edge(lane.edge_id).is_normal:
                lanes.add(lane.id)
    return [(lane_id, net.lane(lane_id).length_m) for lane_id in sorted(lanes)]


def links_into(net: Network) -> dict[str, list[Link]]:
    """Lane id -> the links (connections) that lead into it."""
    out: dict[str, list[Link]] = {}
    for lk in net.links:
        out.setdefault(lk.to_lane, []).append(lk)
    return out


def upstream_lanes(
    net: Network, lane_id: str, length_m: float, into: Mapping[str, list[Link]] | None = None
) -> list[str]:
    """The lanes a detector ending at the stop line of ``lane_id`` covers, upstream first.

    Real networks split an approach wherever its lane count changes, so the lane at the stop
    line is often a few metres long (49 % of the signalised approach lanes of RESCO's
    Ingolstadt network are under 20 m, some under 1 m): a detector on it alone sees a car only while it stands at the line, and a
    controller reading it finds no demand, or gaps out, while a platoon is still coming. The
    detector therefore reaches back, up to ``length_m`` in all, over the lane leading into it
    through *unsignalised* junctions (a signal upstream is another junction's approach): the
    only such lane, or the only one continuing straight; where that is ambiguous it stops.
    ``into`` is :func:`links_into` of ``net`` if the caller has it.
    """
    into_map = links_into(net) if into is None else into
    chain = [lane_id]
    covered_m = net.lane(lane_id).length_m
    while covered_m < length_m:
        feeders = [
            lk for lk in into_map.get(chain[0], ())
            if lk.signal_id is None and not lk.is_crossing and not lk.from_lane.startswith(":")
            and net.edge(net.lane(lk.from_lane).edge_id).is_normal
        ]  # fmt: skip
        if len(feeders) > 1:
            feeders = [lk for lk in feeders if lk.direction == "s"]
        if len(feeders) != 1 or feeders[0].from_lane in chain:
            break
        chain.insert(0, feeders[0].from_lane)
        covered_m += net.lane(chain[0]).length_m
    return chain


def covered_lengths_m(net: Network, length_m: float = DETECTOR_LENGTH_M) -> dict[str, float]:
    """Lane id at the stop line -> how much road its detector covers (m), junctions' internal
    lanes left out (what :func:`write_lane_detectors` writes)."""
    into = links_into(net)
    out = {}
    for lane_id, _length_m in detector_lanes(net):
        chain = upstream_lanes(net, lane_id, length_m, into)
        out[lane_id] = min(length_m, sum(net.lane(x).length_m for x in chain))
    return out


def write_lane_detectors(
    net: Network,
    out_path: str | os.PathLike[str],
    *,
    length_m: float = DETECTOR_LENGTH_M,
    period_s: float = 86400.0,
) -> Path:
    """Write one lane-area detector (E2) per incoming lane of every signalised junction.

    Each detector ends at the stop line and reaches ``length_m`` upstream, over the lanes
    leading into a short approach lane where they are unambiguous (:func:`upstream_lanes`),
    or as far as they go (a multi-lane E2, ``lanes=``); its id is ``cw_<lane id>`` of the lane
    at the stop line, which is also what SUMO reports as its lane. The twin reads them by
    subscription every step; their periodic file output is not wanted, so it goes to SUMO's
    null device ``NUL``.

    Parameters
    ----------
    net
        The network.
    out_path
        The additional file to write (parent folder created if missing).
    length_m
        Longest detector (m).
    period_s
        Aggregation period of the (discarded) file output (s).

    Returns
    -------
    Path
        ``out_path``.
    """
    if length_m <= 0:
        raise ConfigError(f"detector length must be positive, got {length_m} m")
    lanes = detector_lanes(net)
    lines = ["<additional>"]
    into = links_into(net)
    for lane_id, lane_len in lanes:
        chain = upstream_lanes(net, lane_id, length_m, into)
        if len(chain) == 1:
            length = min(lane_len, length_m)
            where = f'lane={quoteattr(lane_id)} pos="{lane_len - length:.2f}"'
        else:
            rest_m = length_m - sum(net.lane(x).length_m for x in chain[1:])
            first_len = net.lane(chain[0]).length_m
            where = (f'lanes={quoteattr(" ".join(chain))} '
                     f'pos="{max(0.0, first_len - rest_m):.2f}"')  # fmt: skip
        lines.append(
            f"    <laneAreaDetector id={quoteattr(DETECTOR_PREFIX + lane_id)} {where} "
            f'endPos="{lane_len:.2f}" friendlyPos="true" period="{period_s:g}" '
            'file="NUL"/>'
        )
    lines.append("</additional>\n")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with staging(out) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return out
