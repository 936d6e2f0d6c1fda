"""What the detectors have counted: flow per detected lane, now and by time of day.

A detector reading gives, per lane, the vehicles on the detector and their mean speed; the
flow past the detector is density times speed, ``q = (vehicles / detector length) x speed``.
One reading is noisy — a lane at red flows 0, a queue discharging at green flows at
saturation — so :class:`FlowHistory` keeps two aggregates over many readings:

- the flow *now*: an exponentially weighted mean with a time constant of
  :data:`RECENT_S` (15 minutes, the usual traffic-count interval);
- a *time-of-day profile*: the mean flow in each :data:`BIN_S` bin of the day (96 bins of
  15 minutes), from every reading seen in that bin, on any day. Time of day is traffic time
  modulo one day (UTC on field equipment, simulated seconds from midnight on the twin).

Aggregates per lane only: nothing about any one vehicle.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np

from clearway.state.traffic import TrafficState

#: Time constant of the flow now (s).
RECENT_S = 900.0
#: Width of a time-of-day bin (s).
BIN_S = 900.0
DAY_S = 86_400.0
#: Two readings further apart than this are not averaged across (s): the gap is unknown.
MAX_GAP_S = 60.0


class FlowHistory:
    """Flow per detected lane (veh/h): now, and a time-of-day profile.

    Parameters
    ----------
    detector_length_m
        ``detector_length_m(lane_id)``: how much of the lane its detector covers (m, > 0).
    """

    def __init__(self, detector_length_m: Callable[[str], float]) -> None:
        self._length_m = detector_length_m
        self._lanes: tuple[str, ...] = ()
        self._index: dict[str, int] = {}
        self._inv_len = np.zeros(0)
        self._recent = np.zeros(0)  # weighted mean from 0, unbiased by the weight seen
        self._last_flow = np.zeros(0)
        self._sum = np.zeros((0, 0))  # flow x seconds per (bin, lane)
        self._dur = np.zeros(0)  # seconds seen per bin
        self._last_s: float | None = None
        #: Traffic time the history covers (s).
        self.observed_s = 0.0
        self._lock = threading.Lock()  # readers run on request threads, readings on the tick's

    def observe(self, traffic: TrafficState) -> None:
        """Take one reading (readings in time order; a lane set that changed starts afresh)."""
        with self._lock:
            self._observe(traffic)

    def _observe(self, traffic: TrafficState) -> None:
        if traffic.lane_ids != self._lanes:
            self._reset(traffic.lane_ids)
        counts = np.clip(np.nan_to_num(traffic.vehicle_count, nan=0.0), 0.0, None)
        speeds = np.clip(np.nan_to_num(traffic.mean_speed_mps, nan=0.0), 0.0, None)
        flow_vph = counts * speeds * self._inv_len * 3600.0
        last, self._last_s, self._last_flow = self._last_s, traffic.time_s, flow_vph
        if last is None:
            return
        dt_s = traffic.time_s - last
        if not 0.0 < dt_s <= MAX_GAP_S:
            return
        self._recent += (flow_vph - self._recent) * (1.0 - math.exp(-dt_s / RECENT_S))
        b = int((traffic.time_s % DAY_S) // BIN_S)
        self._sum[b] += flow_vph * dt_s
        self._dur[b] += dt_s
        self.observed_s += dt_s

    def _reset(self, lanes: tuple[str, ...]) -> None:
        self._lanes = lanes
        self._index = {lane: i for i, lane in enumerate(lanes)}
        self._inv_len = np.array([1.0 / self._length_m(lane) for lane in lanes])
        self._recent = np.zeros(len(lanes))
        self._last_flow = np.zeros(len(lanes))
        self._sum = np.zeros((int(DAY_S // BIN_S), len(lanes)))
        self._dur = np.zeros(int(DAY_S // BIN_S))
        self._last_s = None
        self.observed_s = 0.0

    def has_lane(self, lane_id: str) -> bool:
        """Whether a detector covers the lane."""
        return lane_id in self._index

    def recent_vph(self, lane_id: str) -> float:
        """The lane's flow now (veh/h; 0 for a lane no detector covers): the weighted mean
        over the readings so far, the last reading alone before a second one."""
        with self._lock:
            i = self._index.get(lane_id)
            if i is None:
                return 0.0
            weight = 1.0 - math.exp(-self.observed_s / RECENT_S)
            return float(self._recent[i] / weight) if weight > 0 else float(self._last_flow[i])

    def profile_vph(self, lane_id: str, from_s: float, to_s: float) -> tuple[float, float]:
        """(mean flow in veh/h, seconds of history it is from) of the lane over the
        time-of-day bins that ``[from_s, to_s]`` touches, weighted by how long each was seen;
        ``(0, 0)`` where none of them was seen."""
        n_bins = int(DAY_S // BIN_S)
        first, last = math.floor(from_s / BIN_S), math.floor(to_s / BIN_S)
        bins = sorted({k % n_bins for k in range(first, min(last, first + n_bins - 1) + 1)})
        with self._lock:
            i = self._index.get(lane_id)
            if i is None or to_s < from_s:
                return 0.0, 0.0
            seen_s = float(self._dur[bins].sum())
            if seen_s <= 0.0:
                return 0.0, 0.0
            return float(self._sum[bins, i].sum() / seen_s), seen_s
