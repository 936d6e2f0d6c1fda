"""Lane-area detectors (E2) at the stop lines of signalised junctions: the twin's eyes.

They give what real detectors give a traffic controller — per-lane counts, queue length,
occupancy, speed — and nothing about individual vehicles.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

from clearway.errors import ConfigError
from clearway.network import Network
from clearway.sim.files import staging

#: Prefix of the ids of the lane-area detectors clearway places (``cw_<lane id>``).
DETECTOR_PREFIX = "cw_"
#: Longest lane-area detector placed upstream of a stop line (m): covers queues that matter
#: for control without double-counting the previous junction's discharge on short blocks.
DETECTOR_LENGTH_M = 80.0


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


def write_lane_detectors(
    net: Network,
    out_path: str | os.PathLike[str],
    *,
    length_m: float = DETECTOR_LENGTH_M,
    period_s: float = 86400.0,
) -> Path:
    """Write one lane-area detector (E2) per incoming lane of every signalised junction.

    Each detector ends at the stop line and reaches ``min(lane length, length_m)`` upstream;
    its id is ``cw_<lane id>``. The twin reads them by subscription every step; their periodic
    file output is not wanted, so it goes to SUMO's null device ``NUL``.

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
    for lane_id, lane_len in lanes:
        length = min(lane_len, length_m)
        lines.append(
            f"    <laneAreaDetector id={quoteattr(DETECTOR_PREFIX + lane_id)} "
            f'lane={quoteattr(lane_id)} pos="{lane_len - length:.2f}" '
            f'endPos="{lane_len:.2f}" friendlyPos="true" period="{period_s:g}" '
            'file="NUL"/>'
        )
    lines.append("</additional>\n")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with staging(out) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return out
