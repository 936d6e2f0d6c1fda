"""What a priority hold cost everyone else at its junction, estimated from detector queues.

By Little's law the delay vehicles suffer at a junction is the time integral of how many of
them are queued there. So the extra delay a hold causes is the queue it adds: while a signal
is held for a priority vehicle and then recovers, the queued vehicles on its approach lanes
(standing queue over the jam spacing) are summed over time, less what they would have been in
normal operation — each signal's mean queue while no hold touched it, an average over several
cycles. A held green drains its approach below that mean and counts against the cut ones, so
the figure is the junction's net extra delay.

From aggregate data only (per-lane queue lengths), never a vehicle. What it does not see: a
slowdown that does not stand in a queue, queues on lanes without a detector, and spill-back
to the junctions upstream (their own holds count theirs). ``clearway evaluate`` sets it beside
the delay measured on every vehicle in the simulation (``others_extra_delay_estimate_veh_h``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from clearway.network.graph import JAM_SPACING_M
from clearway.network.model import Network
from clearway.state.traffic import TrafficState

#: Time constant of each signal's normal-operation mean queue (s): several signal cycles.
BASELINE_S = 300.0


class HoldCostMeter:
    """Per signal, the queue a hold adds, integrated while it is held or recovers.

    Parameters
    ----------
    net
        The network (each signal's approach lanes).
    signal_ids
        The signals measured.
    baseline_s
        Time constant of the normal-operation mean queue (s).
    """

    def __init__(self, net: Network, signal_ids: Iterable[str], baseline_s: float = BASELINE_S):
        if not baseline_s > 0:
            raise ValueError(f"baseline_s must be positive, got {baseline_s}")
        self.baseline_s = baseline_s
        self.signal_ids = tuple(signal_ids)
        self._row = {sid: k for k, sid in enumerate(self.signal_ids)}
        self._lanes = {
            sid: sorted({lk.from_lane for lk in net.signal_links(sid) if lk.from_lane})
            for sid in self.signal_ids
        }
        n = len(self.signal_ids)
        self._mean_veh = np.zeros(n)
        self._seen = np.zeros(n, dtype=bool)
        self._excess_veh_s = np.zeros(n)
        self._last_s: float | None = None
        self._layout: tuple[tuple[str, ...], np.ndarray, np.ndarray] | None = None

    def observe(self, traffic: TrafficState, busy: Iterable[str], now_s: float) -> None:
        """Take one detector snapshot: ``busy`` signals (held or recovering) add their queue
        above their mean to their hold's cost; the others update their mean.

        Parameters
        ----------
        traffic
            Per-lane aggregates now (``queue_m``, m).
        busy
            Signals held for a priority vehicle or recovering from a hold now.
        now_s
            Time now (s).
        """
        dt = 0.0 if self._last_s is None else max(now_s - self._last_s, 0.0)
        self._last_s = now_s
        queued = self._queued_veh(traffic)
        mask = np.zeros(len(self.signal_ids), dtype=bool)
        for sid in busy:
            k = self._row.get(sid)
            if k is not None:
                mask[k] = True
        self._excess_veh_s[mask] += (queued[mask] - self._mean_veh[mask]) * dt
        calm = ~mask
        # The first snapshot of a signal starts its mean; later ones move it.
        fresh = calm & ~self._seen
        self._mean_veh[fresh] = queued[fresh]
        self._seen |= calm
        alpha = min(dt / self.baseline_s, 1.0)
        steady = calm & ~fresh
        self._mean_veh[steady] += alpha * (queued[steady] - self._mean_veh[steady])

    def finish(self, signal_id: str) -> float | None:
        """The cost of the signal's hold that just ended (veh·h), and start afresh.

        ``None`` if the signal was never seen in normal operation (no mean to set it
        against) or is not measured.
        """
        k = self._row.get(signal_id)
        if k is None or not self._seen[k]:
            return None
        cost = float(self._excess_veh_s[k]) / 3600.0
        self._excess_veh_s[k] = 0.0
        return cost

    def _queued_veh(self, traffic: TrafficState) -> np.ndarray:
        """Queued vehicles per signal (count) from the lanes' standing queues."""
        if self._layout is None or self._layout[0] is not traffic.lane_ids:
            index = {lane: i for i, lane in enumerate(traffic.lane_ids)}
            rows, cols = [], []
            for sid, lanes in self._lanes.items():
                for lane in lanes:
                    if lane in index:
                        rows.append(self._row[sid])
                        cols.append(index[lane])
            self._layout = (traffic.lane_ids, np.array(rows, dtype=int), np.array(cols, dtype=int))
        _, rows, cols = self._layout
        queue = np.nan_to_num(np.asarray(traffic.queue_m, dtype=float)[cols], nan=0.0)
        return np.bincount(rows, weights=np.maximum(queue, 0.0), minlength=len(self.signal_ids)) / JAM_SPACING_M


def total_veh_h(costs: Mapping[str, float | None] | Iterable[float | None]) -> float | None:
    """Sum of hold costs (veh·h) that were measured; ``None`` if none was."""
    values = costs.values() if isinstance(costs, Mapping) else costs
    known = [c for c in values if c is not None]
    return float(sum(known)) if known else None


__all__ = ["BASELINE_S", "HoldCostMeter", "total_veh_h"]
