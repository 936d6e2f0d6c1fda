"""Max-pressure control (Varaiya 2013) from detector data only, vectorised over the city.

The pressure of a signal link is the number of vehicles waiting to use it (on its incoming
lane's detector) minus those on its outgoing lane (which it would feed); a phase's pressure is
the sum over the links it shows green. Every ``decision_s`` seconds each signal whose current
phase has run its minimum green switches to its highest-pressure phase if that beats the current
one by ``hysteresis_veh``, and any phase that has run ``max_green_s`` gives way to the best other
one. The pressures of every phase of every signal are one sparse matrix-vector product
(:mod:`clearway.control.phase_control`).

People waiting at a crossing (a pedestrian call, :mod:`clearway.control.ped_calls`) add
``ped_weight_veh`` per person to the pressure of every phase that shows the crossing green: a
walker weighs as much as a waiting car by default (1.0 vehicle), so a crossing with a crowd
gets its walk even where no car is queued beside it, and a lone walker does not outweigh a
queue.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from clearway.control.phase_control import PhaseController
from clearway.network.model import Network, SignalProgram
from clearway.signals.model import Intersection
from clearway.state.traffic import PERSON_FIELD, TrafficState


class MaxPressureController(PhaseController):
    """Max-pressure over every signal with a program.

    Parameters
    ----------
    net, intersections, programs
        The network, the intersection model and the program per signal id.
    decision_s
        Time between two decisions of a signal (s).
    max_green_s
        Longest a phase keeps its green while another phase has demand (s).
    hysteresis_veh
        A phase must beat the current one by this much pressure to take over (vehicles).
    ped_weight_veh
        Pressure of one person waiting at a crossing the phase shows green (vehicles per
        person, >= 0; 0 ignores pedestrians).
    """

    name = "max-pressure"
    #: Only vehicle counts and people at crossings are used (nothing else is read).
    traffic_fields = ("vehicle_count", PERSON_FIELD)

    def __init__(
        self,
        net: Network,
        intersections: Mapping[str, Intersection],
        programs: Mapping[str, SignalProgram],
        *,
        decision_s: float = 5.0,
        max_green_s: float = 60.0,
        hysteresis_veh: float = 1.0,
        ped_weight_veh: float = 1.0,
    ) -> None:
        if not ped_weight_veh >= 0:
            raise ValueError(
                f"ped_weight_veh must be >= 0 (vehicles per person), got {ped_weight_veh}"
            )
        super().__init__(
            net, intersections, programs, decision_s=decision_s, max_green_s=max_green_s
        )
        self.hysteresis_veh = hysteresis_veh
        self.ped_weight_veh = ped_weight_veh

    def pressures(self, traffic: TrafficState) -> np.ndarray:
        """Pressure of every phase (vehicles), aligned with the controller's phase order:
        vehicles in minus out over its green links, plus ``ped_weight_veh`` per person waiting
        at its green crossings."""
        x_in, x_out = self._link_values(traffic.vehicle_count, traffic.lane_ids)
        pressure = self._green @ (x_in - x_out)
        if self.ped_weight_veh:
            pressure = pressure + self.ped_weight_veh * self._ped_calls(traffic)
        return pressure

    def _decide(self, now_s: float, due: np.ndarray, traffic: TrafficState) -> None:
        pressure = self.pressures(traffic)
        n = len(self._signals)
        if not n:
            return
        best_val = np.maximum.reduceat(pressure, self._first)
        # the first best phase of each signal (a signal's phases are contiguous)
        cand = np.flatnonzero(pressure >= best_val[self._phase_signal] - 1e-9)
        sig = self._phase_signal[cand]
        _, first_pos = np.unique(sig, return_index=True)
        best = np.full(n, -1, dtype=np.intp)
        best[sig[first_pos]] = cand[first_pos]
        elapsed, served = self._served(now_s)
        gain = best_val - pressure[self._current]
        switch = due & served & (best != self._current) & (gain >= self.hysteresis_veh)
        # At max green the best *other* phase takes over.
        tired = due & served & (elapsed >= self.max_green_s) & (self._count > 1) & ~switch
        for j in np.flatnonzero(tired):
            block = np.arange(self._first[j], self._first[j] + self._count[j])
            others = block[block != self._current[j]]
            best[j] = others[np.argmax(pressure[others])]
            switch[j] = True
        self._switch(switch, best)
