"""Actuated control: gap-based green extension from lane-area detectors, city-wide in numpy.

Each signal runs the green phases of its program in program order. A phase keeps its green,
after its minimum, while vehicles are still arriving on the lanes it serves (moving vehicles on
their detectors: count − halting > 0) and until ``max_green_s``; when the arrivals stop (the
gap) or max green is reached, the next phase in order *that has vehicles waiting* takes over
(phases without demand are skipped); with no demand anywhere the signal rests where it is.
People waiting at a crossing are demand for every phase that shows it green (a pedestrian
call, :mod:`clearway.control.ped_calls`): such a phase is not skipped, however empty its
vehicle lanes, so walkers are never starved. Their walk then lasts the phase's minimum green,
which the guard holds for the crossing with its pedestrian clearance after it.
Decisions every ``decision_s`` (the extension interval). The classic NEMA-style actuated logic
with the detector a traffic controller has, instead of SUMO's own ``actuated`` type.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from clearway.control.phase_control import PhaseController
from clearway.network.model import Network, SignalProgram
from clearway.signals.model import Intersection
from clearway.state.traffic import PERSON_FIELD, TrafficState


class ActuatedController(PhaseController):
    """Gap-based actuated control over every signal with a program.

    Parameters
    ----------
    net, intersections, programs
        The network, the intersection model and the program per signal id.
    decision_s
        Extension interval: how often arrivals are checked (s).
    max_green_s
        Longest a phase keeps its green while another phase has demand (s).
    """

    name = "actuated"
    traffic_fields = ("vehicle_count", "halting_count", PERSON_FIELD)

    def __init__(
        self,
        net: Network,
        intersections: Mapping[str, Intersection],
        programs: Mapping[str, SignalProgram],
        *,
        decision_s: float = 1.0,
        max_green_s: float = 45.0,
    ) -> None:
        super().__init__(
            net, intersections, programs, decision_s=decision_s, max_green_s=max_green_s
        )

    def _decide(self, now_s: float, due: np.ndarray, traffic: TrafficState) -> None:
        moving = np.asarray(traffic.vehicle_count, dtype=float) - np.asarray(
            traffic.halting_count, dtype=float
        )
        arriving_in, _ = self._link_values(moving, traffic.lane_ids)
        waiting_in, _ = self._link_values(traffic.vehicle_count, traffic.lane_ids)
        arrivals = self._green @ arriving_in  # per phase: vehicles moving toward its greens
        # per phase: vehicles on its lanes at all, and people waiting at its crossings
        demand = self._green @ waiting_in + self._ped_calls(traffic)
        elapsed, served = self._served(now_s)
        gap = arrivals[self._current] <= 0.0
        tired = elapsed >= self.max_green_s
        ending = due & served & (gap | tired) & (self._count > 1)
        nxt = self._current.copy()
        for j in np.flatnonzero(ending):
            first, n = self._first[j], self._count[j]
            k = self._current[j] - first
            order = first + (k + 1 + np.arange(n - 1)) % n  # the other phases, in program order
            waiting = order[demand[order] > 0.0]
            if waiting.size:
                nxt[j] = waiting[0]
        self._switch(ending & (nxt != self._current), nxt)
