"""Live travel times for re-routing: each standing vehicle counted once.

:func:`clearway.network.graph.edge_times_s` (the times routes are planned with at submit)
runs a lane at its detector's mean speed and adds its queue; at a red light the queue stands
on the detector, so the lane is both run at walking pace and charged for the queue — every
red approach looks like a jam, and the estimate swings with the signal cycle.
:func:`live_edge_times_s` separates the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clearway.network.graph import JAM_SPACING_M, MIN_OBSERVED_SPEED_MPS, RoutingGraph

if TYPE_CHECKING:
    from clearway.state.traffic import TrafficState

__all__ = ["QUEUE_HEADWAY_S", "live_edge_times_s"]

#: Time one lane takes to discharge one queued vehicle once its light is green (s/vehicle):
#: saturation flow of about 1,900 veh/h per lane.
QUEUE_HEADWAY_S = 1.9


def live_edge_times_s(graph: RoutingGraph, traffic: TrafficState | None) -> np.ndarray:
    """Per-edge travel time from detector aggregates (s), aligned with ``graph.edge_ids``;
    each standing vehicle counted once.

    A lane-area detector at a red light sees its queue standing: its mean speed is near 0,
    and taking that for the speed along the whole lane (as
    :func:`~clearway.network.graph.edge_times_s` does, and then adds the queue) makes every
    red approach look like a jam, which flickers with the signal cycle. Here a lane's time is
    its run at the speed of the vehicles that *move* (the mean speed times ``count / (count
    - halting)``, floored at 2 m/s; free flow when none moves or the detector is empty) plus
    its queue discharging: ``queue_m / 7.5 m`` vehicles, :data:`QUEUE_HEADWAY_S` each. Slow
    moving traffic (an incident, a work zone) so lengthens the run; a queue at a light adds
    its discharge only. Detectors that do not report counts (field loops: nan) use the plain
    mean speed. An edge's time is the mean over its covered lanes, never below free flow.

    Parameters
    ----------
    graph
        The routing graph.
    traffic
        Detector aggregates; ``None`` for free flow.

    Returns
    -------
    numpy.ndarray
        Travel time per node (s), shape ``(graph.n,)``.
    """
    times = np.array(graph.free_flow_s, dtype=float)
    if traffic is None or not traffic.lane_ids:
        return times
    pos = graph.lane_map(traffic.lane_ids)
    ok = pos >= 0
    if not ok.any():
        return times
    p = pos[ok]
    node = graph.lane_node[p]
    lane_len = graph.lane_length_m[p]
    ff = graph.free_flow_s[node]
    speed = np.asarray(traffic.mean_speed_mps, dtype=float)[ok]
    count = np.asarray(traffic.vehicle_count, dtype=float)[ok]
    halting = np.asarray(traffic.halting_count, dtype=float)[ok]
    queue = np.nan_to_num(np.asarray(traffic.queue_m, dtype=float)[ok], nan=0.0)
    counted = np.isfinite(count) & np.isfinite(halting) & (count >= 0) & (halting >= 0)
    moving = np.where(counted, count - halting, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        moving_speed = np.where(counted, speed * count / moving, speed)
    observed = np.isfinite(moving_speed) & (speed >= 0) & ~(counted & (moving <= 0))
    run = np.where(
        observed, lane_len / np.maximum(np.nan_to_num(moving_speed), MIN_OBSERVED_SPEED_MPS), ff
    )
    lane_time = run + np.maximum(queue, 0.0) / JAM_SPACING_M * QUEUE_HEADWAY_S
    total = np.bincount(node, weights=lane_time, minlength=graph.n)
    lanes = np.bincount(node, minlength=graph.n)
    covered = lanes > 0
    times[covered] = np.maximum(total[covered] / lanes[covered], graph.free_flow_s[covered])
    return times
