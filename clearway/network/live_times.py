"""Live travel times for re-routing: each standing vehicle counted once.

:func:`clearway.network.graph.edge_times_s` (the times routes are planned with at submit)
runs a lane at its detector's mean speed and adds its queue; at a red light the queue stands
on the detector, so the lane is both run at walking pace and charged for the queue — every
red approach looks like a jam, and the estimate swings with the signal cycle.
:func:`live_edge_times_s` separates the two; :class:`LiveTimes` also looks back over the last
few readings, so a car braking for a red is not taken for a slow street, and keeps a lane's
last measured speed while its detector is empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clearway.network.graph import JAM_SPACING_M, MIN_OBSERVED_SPEED_MPS, RoutingGraph

if TYPE_CHECKING:
    from clearway.state.traffic import TrafficState

__all__ = ["QUEUE_HEADWAY_S", "LiveTimes", "live_edge_times_s"]

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
    lanes = _lanes(graph, traffic)
    if lanes is None:
        return np.array(graph.free_flow_s, dtype=float)
    node, run, seen, queue_s = lanes
    return _edge_times(graph, node, np.where(seen, run, graph.free_flow_s[node]) + queue_s)


class LiveTimes:
    """Edge times from the last few detector readings (s), robust to the signal cycle.

    At a stop-line detector the moving vehicles are slow for two reasons: the street is slow
    (an incident, a work zone), or they brake for a red light or pull away from it. Braking
    and pulling away take a few seconds, and a vehicle enters the detector at the street's
    speed; on a slow street every vehicle crawls all the time. So a lane's run is timed at
    the *fastest* moving-vehicle speed its detector saw within the last ``window_s``, once
    vehicles have moved on it in every ``bucket_s`` slice of that window. A detector without
    moving vehicles all that time (empty, its queue standing at a red, or one vehicle braking
    for it) says nothing of the street's speed: the lane keeps the run last measured for
    ``memory_s`` (free flow after that, or before any). The queue delay is the queue's mean
    over the window. Both as in :func:`live_edge_times_s` otherwise.

    Parameters
    ----------
    graph
        The routing graph.
    window_s, bucket_s
        How far back a speed counts (s), in slices of ``bucket_s`` (s).
    memory_s
        How long a lane's last measured run stands in for one not measured since (s).
    """

    def __init__(
        self,
        graph: RoutingGraph,
        window_s: float = 10.0,
        bucket_s: float = 5.0,
        memory_s: float = 120.0,
    ) -> None:
        if not (bucket_s > 0 and window_s >= bucket_s and memory_s >= 0):
            raise ValueError(
                f"need 0 < bucket_s <= window_s and memory_s >= 0, got {bucket_s}, "
                f"{window_s} and {memory_s}"
            )
        self.graph = graph
        self.bucket_s = bucket_s
        self.memory_s = memory_s
        self._n = int(np.ceil(window_s / bucket_s))
        self._lane_ids: tuple[str, ...] = ()
        self._bucket = -1
        #: Edge times (s): :attr:`run_s`, the run alone, plus :attr:`queue_s`, the queue's
        #: discharge at the edge's end.
        self.times_s = np.array(graph.free_flow_s, dtype=float)
        self.run_s = self.times_s.copy()
        self.queue_s = np.zeros(graph.n)

    def update(self, traffic: TrafficState) -> np.ndarray:
        """Take in one detector reading; returns (and keeps as :attr:`times_s`) the edge
        times (s), aligned with ``graph.edge_ids``."""
        lanes = _lanes(self.graph, traffic)
        if lanes is None:
            self.times_s = np.array(self.graph.free_flow_s, dtype=float)
            self.run_s, self.queue_s = self.times_s.copy(), np.zeros(self.graph.n)
            return self.times_s
        node, run, seen, queue_s = lanes
        k = int(traffic.time_s // self.bucket_s)
        free = self.graph.free_flow_s[node]
        if traffic.lane_ids != self._lane_ids:
            self._lane_ids = traffic.lane_ids
            self._shortest = np.full((self._n, len(node)), np.inf)  # per slice and lane (s)
            self._queue = np.zeros((self._n, len(node)))
            self._readings = np.zeros(self._n)
            self._last_run = free.copy()
            self._measured_s = np.full(len(node), -np.inf)
            self._bucket = k
        for _ in range(min(max(k - self._bucket, 0), self._n)):
            # A new slice replaces the oldest one.
            self._shortest = np.roll(self._shortest, 1, axis=0)
            self._queue = np.roll(self._queue, 1, axis=0)
            self._readings = np.roll(self._readings, 1)
            self._shortest[0], self._queue[0], self._readings[0] = np.inf, 0.0, 0.0
        self._bucket = max(k, self._bucket)
        np.minimum(self._shortest[0], np.where(seen, run, np.inf), out=self._shortest[0])
        self._queue[0] += queue_s
        self._readings[0] += 1
        shortest = self._shortest.min(axis=0)
        # Only a speed sustained through the whole window is news of the street: a vehicle
        # braking for a red moves on the detector for a slice or two, then stands.
        measured = np.isfinite(self._shortest).all(axis=0)
        self._last_run = np.where(measured, shortest, self._last_run)
        self._measured_s = np.where(measured, traffic.time_s, self._measured_s)
        recent = traffic.time_s - self._measured_s <= self.memory_s
        lane_run = np.where(recent, self._last_run, free)
        mean_queue_s = self._queue.sum(axis=0) / max(self._readings.sum(), 1.0)
        self.times_s = _edge_times(self.graph, node, lane_run + mean_queue_s)
        self.run_s = _edge_times(self.graph, node, lane_run)
        self.queue_s = np.maximum(self.times_s - self.run_s, 0.0)
        return self.times_s


def _lanes(
    graph: RoutingGraph, traffic: TrafficState | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Per detector lane (of the state, covered or not): its graph node (-1: not a usable
    lane), run at the moving vehicles' speed (s), whether any moved, queue discharge (s)."""
    if traffic is None or not traffic.lane_ids:
        return None
    pos = graph.lane_map(traffic.lane_ids)
    if not (pos >= 0).any():
        return None
    p = np.where(pos >= 0, pos, 0)
    node = np.where(pos >= 0, graph.lane_node[p], -1)
    lane_len = graph.lane_length_m[p]
    speed = np.asarray(traffic.mean_speed_mps, dtype=float)
    count = np.asarray(traffic.vehicle_count, dtype=float)
    halting = np.asarray(traffic.halting_count, dtype=float)
    queue = np.nan_to_num(np.asarray(traffic.queue_m, dtype=float), nan=0.0)
    counted = np.isfinite(count) & np.isfinite(halting) & (count >= 0) & (halting >= 0)
    moving = np.where(counted, count - halting, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        moving_speed = np.where(counted, speed * count / moving, speed)
    seen = (pos >= 0) & np.isfinite(moving_speed) & (speed >= 0) & ~(counted & (moving <= 0))
    run = lane_len / np.maximum(np.nan_to_num(moving_speed), MIN_OBSERVED_SPEED_MPS)
    queue_s = np.maximum(queue, 0.0) / JAM_SPACING_M * QUEUE_HEADWAY_S
    return node, run, seen, queue_s


def _edge_times(graph: RoutingGraph, node: np.ndarray, lane_time_s: np.ndarray) -> np.ndarray:
    """Mean over each edge's covered lanes, never below free flow; free flow elsewhere."""
    times = np.array(graph.free_flow_s, dtype=float)
    ok = node >= 0
    total = np.bincount(node[ok], weights=lane_time_s[ok], minlength=graph.n)
    lanes = np.bincount(node[ok], minlength=graph.n)
    covered = lanes > 0
    times[covered] = np.maximum(total[covered] / lanes[covered], graph.free_flow_s[covered])
    return times
