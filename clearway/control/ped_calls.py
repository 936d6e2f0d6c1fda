"""Pedestrian calls for the phase-choosing controllers: people waiting for a walk, per phase.

Field controllers learn of a pedestrian from a push button, and keep the call until the walk
is shown. The twin has no button; it counts the people walking on the sidewalk stretches that
lead to each signalised crossing's walking areas
(:func:`clearway.network.walking.sidewalk_approaches`), one number per stretch
(:data:`~clearway.state.traffic.PERSON_FIELD`), never who. SUMO's detectors do not see people
standing on a walking area, so the count is taken on their way there and *kept* as the call:
per crossing, the most people seen at once on the stretches leading to either of its ends
since the crossing last showed its walk -- a lower bound of how many wait. Showing the walk
answers the call (it starts again from the people still coming).

Someone walking past a corner, or away from it, counts too, as a passer-by pressing the
button would: a call may be false, never missed. At a four-arm junction every corner is an
end of two crossings, one each way, so a person there calls both (as someone pressing both
buttons at the corner): the call says that someone waits and which phases have a walk for
them, not which way they will go.

A phase's call is the sum of the calls of the crossings it shows green; all of it is a few
numpy operations over the city, like the vehicle demand in :mod:`clearway.control.phase_control`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from clearway.network.model import Network
from clearway.network.walking import crossing_areas, sidewalk_approaches
from clearway.signals.model import GREEN_CHARS
from clearway.state.traffic import TrafficState

__all__ = ["PedestrianCalls"]


class PedestrianCalls:
    """Kept pedestrian calls of every crossing, per phase (see the module docstring).

    Parameters
    ----------
    net
        The network (its crossings, walking areas and sidewalks).
    phases
        (signal id, state) of every phase, in the controller's phase order.
    """

    def __init__(self, net: Network, phases: Sequence[tuple[str, str]]) -> None:
        ends = crossing_areas(net)
        feeding: dict[str, list[str]] = {}  # walking area -> approach ids leading to it
        for a in sidewalk_approaches(net):
            feeding.setdefault(a.area_id, []).append(a.approach_id)
        crossings: dict[tuple[str, int], int] = {}
        approach_col: dict[str, int] = {}
        feed_rows: list[int] = []  # crossing x approach
        feed_cols: list[int] = []
        phase_rows: list[int] = []  # phase x crossing
        phase_cols: list[int] = []
        for p, (sid, state) in enumerate(phases):
            per_link = ends.get(sid, {})
            for i, c in enumerate(state):
                if c not in GREEN_CHARS or i not in per_link:
                    continue
                key = (sid, i)
                if key not in crossings:
                    k = crossings[key] = len(crossings)
                    for a in sorted({x for area in per_link[i] for x in feeding.get(area, ())}):
                        feed_rows.append(k)
                        feed_cols.append(approach_col.setdefault(a, len(approach_col)))
                phase_rows.append(p)
                phase_cols.append(crossings[key])
        self.approach_ids: tuple[str, ...] = tuple(approach_col)
        n_x = len(crossings)
        self._feed = sp.csr_matrix(
            (np.ones(len(feed_rows)), (feed_rows, feed_cols)), shape=(n_x, len(approach_col))
        )
        self._phase = sp.csr_matrix(
            (np.ones(len(phase_rows)), (phase_rows, phase_cols)), shape=(len(phases), n_x)
        )
        self._called = np.zeros(n_x)  # per crossing: the call kept since its last walk
        self._map: tuple[tuple[str, ...], np.ndarray] | None = None

    @property
    def any(self) -> bool:
        """Whether any phase shows a crossing with a watched approach (else calls stay 0)."""
        return bool(self.approach_ids)

    def observe(self, traffic: TrafficState) -> None:
        """Keep, per crossing, the most people seen at once coming to it since its walk."""
        if not self.approach_ids or not traffic.approach_ids:
            return
        if self._map is None or self._map[0] is not traffic.approach_ids:
            pos = {a: i for i, a in enumerate(traffic.approach_ids)}
            idx = np.array([pos.get(a, -1) for a in self.approach_ids], dtype=np.intp)
            self._map = (traffic.approach_ids, idx)
        idx = self._map[1]
        counts = np.asarray(traffic.person_count, dtype=float)
        seen = np.where(idx >= 0, counts[np.maximum(idx, 0)], 0.0)
        np.maximum(self._called, self._feed @ seen, out=self._called)

    def answered(self, phases: np.ndarray) -> None:
        """The ``phases`` (indices) are showing their walks: their crossings' calls are
        answered."""
        # No call kept (every city without pedestrian counts, every decision): nothing to
        # answer, and the sparse row pick below would cost most of a decision.
        if phases.size and self._called.any():
            shown = np.asarray(self._phase[phases].sum(axis=0)).ravel() > 0
            self._called[shown] = 0.0

    def per_phase(self) -> np.ndarray:
        """People calling for each phase's walks: the sum of its crossings' kept calls."""
        return self._phase @ self._called
