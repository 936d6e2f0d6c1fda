"""People waiting at each junction's crossings, for the live view: counts only.

The calls are :class:`~clearway.control.ped_calls.PedestrianCalls` -- the kept call the
``actuated`` and ``max-pressure`` controllers use, from the same pedestrian detector counts
(:attr:`~clearway.state.traffic.TrafficState.person_count`) -- computed here for every
signalised crossing whatever its junction's strategy (a fixed-time junction has people waiting
too). Each crossing is its own "phase" of one green link, so the per-phase call is the
crossing's call; a crossing whose link shows green is showing its walk, and that answers its
call, as it does in the controllers. Nothing about any one person is read or kept.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from clearway.control.ped_calls import PedestrianCalls
from clearway.network.model import Network
from clearway.network.walking import crossing_areas
from clearway.service.live_view import PedestrianView
from clearway.signals.model import GREEN_CHARS
from clearway.state.traffic import TrafficState

__all__ = ["CrossingCalls"]


class CrossingCalls:
    """Pedestrian calls per signalised crossing of a network, kept across ticks.

    Parameters
    ----------
    net
        The network; crossings come from :func:`~clearway.network.walking.crossing_areas`.
    """

    def __init__(self, net: Network) -> None:
        ends = crossing_areas(net)
        self._keys: tuple[tuple[str, int], ...] = tuple(
            (sid, i) for sid in sorted(ends) for i in sorted(ends[sid])
        )
        phases = [(sid, "r" * i + "G") for sid, i in self._keys]  # one green link each
        self._calls = PedestrianCalls(net, phases)
        self._seen: TrafficState | None = None

    @property
    def any(self) -> bool:
        """Whether any crossing has a watched sidewalk (no pedestrian detectors: never)."""
        return self._calls.any

    def update(
        self, traffic: TrafficState, signals: Mapping[str, str]
    ) -> dict[str, PedestrianView]:
        """Take in a detector reading (once per reading) and the states shown now; the calls
        per signal id (empty without pedestrian detectors)."""
        if not self._calls.any:
            return {}
        if traffic is not self._seen:
            self._seen = traffic
            self._calls.observe(traffic)
        walks = np.array([_green(signals.get(sid, ""), i) for sid, i in self._keys], dtype=bool)
        self._calls.answered(np.flatnonzero(walks))
        waiting = np.rint(self._calls.per_phase()).astype(int).tolist()
        out: dict[str, list[tuple[int, int, bool]]] = {}
        for (sid, i), n, w in zip(self._keys, waiting, walks.tolist(), strict=True):
            out.setdefault(sid, []).append((i, n, w))
        return {
            sid: PedestrianView(
                tuple(i for i, _, _ in rows),
                tuple(n for _, n, _ in rows),
                tuple(w for _, _, w in rows),
            )
            for sid, rows in out.items()
        }


def _green(state: str, index: int) -> bool:
    return index < len(state) and state[index] in GREEN_CHARS
