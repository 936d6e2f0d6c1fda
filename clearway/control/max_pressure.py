"""Max-pressure control (Varaiya 2013) from detector data only, vectorised over the city.

The pressure of a signal link is the number of vehicles waiting to use it (on its incoming
lane's detector) minus those on its outgoing lane (which it would feed); a phase's pressure is
the sum over the links it shows green. Every ``decision_s`` seconds each signal whose current
phase has run its minimum green switches to its highest-pressure phase if that beats the current
one by ``hysteresis_veh``, and any phase that has run ``max_green_s`` gives way to the best other
one. The pressures of every phase of every signal are one sparse matrix-vector product; only
signals that are changing state run Python code (:func:`~clearway.signals.transition.step_toward`
through yellow and clearance, judged by the guard as always).

Phases are the green phases of each signal's program (the guard-safe form of them), so a
junction only ever shows phase combinations its traffic engineers designed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from clearway.network.model import Network, SignalProgram
from clearway.signals.model import GREEN_CHARS, Intersection
from clearway.signals.programs import safe_phase_states
from clearway.signals.safety.commands import SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.signals.transition import step_toward
from clearway.state.traffic import TrafficState


class MaxPressureController:
    """Max-pressure over every signal with a program.

    Parameters
    ----------
    net
        The network (for each link's incoming and outgoing lane).
    intersections
        Intersection model per signal id.
    programs
        Per signal the program whose green phases are the choices.
    decision_s
        Time between two decisions of a signal (s).
    max_green_s
        Longest a phase keeps its green while another phase has demand (s).
    hysteresis_veh
        A phase must beat the current one by this much pressure to take over (vehicles).
    """

    name = "max-pressure"
    uses_traffic_state = True

    def __init__(
        self,
        net: Network,
        intersections: Mapping[str, Intersection],
        programs: Mapping[str, SignalProgram],
        *,
        decision_s: float = 5.0,
        max_green_s: float = 60.0,
        hysteresis_veh: float = 1.0,
    ) -> None:
        if decision_s <= 0 or max_green_s <= 0:
            raise ValueError("decision_s and max_green_s must be positive")
        self.decision_s = decision_s
        self.max_green_s = max_green_s
        self.hysteresis_veh = hysteresis_veh
        self._models = dict(intersections)
        self._signals: list[str] = []
        self._states: list[str] = []  # per phase: the state it shows
        self._program_k: list[int] = []  # per phase: its index in the program
        first: list[int] = []
        rows: list[int] = []
        cols: list[int] = []
        in_lanes: list[str | None] = []
        out_lanes: list[str | None] = []
        for sid in sorted(self._models):
            program = programs.get(sid)
            if program is None:
                continue
            states = safe_phase_states(self._models[sid], program)
            greens = [(k, s) for k, s in enumerate(states) if any(c in GREEN_CHARS for c in s)]
            if not greens:
                continue
            lanes = {lk.signal_index: lk for lk in net.signal_links(sid) if lk.signal_index >= 0}
            base = len(in_lanes)
            n_links = len(states[0])
            for i in range(n_links):
                lk = lanes.get(i)
                usable = lk is not None and not lk.is_crossing
                in_lanes.append(lk.from_lane if usable else None)
                out_lanes.append(lk.to_lane if usable else None)
            first.append(len(self._states))
            self._signals.append(sid)
            for k, state in greens:
                p = len(self._states)
                self._states.append(state)
                self._program_k.append(k)
                for i, c in enumerate(state):
                    if c in GREEN_CHARS:
                        rows.append(p)
                        cols.append(base + i)
        n_phases, n_links_all = len(self._states), len(in_lanes)
        self._first = np.array(first, dtype=np.intp)
        self._count = np.diff(np.append(self._first, n_phases))
        self._phase_signal = np.repeat(np.arange(len(self._signals)), self._count)
        self._green = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(n_phases, n_links_all)
        )
        self._in_lanes, self._out_lanes = in_lanes, out_lanes
        self._lane_map: tuple[tuple[str, ...], np.ndarray, np.ndarray] | None = None
        self._index = {sid: j for j, sid in enumerate(self._signals)}
        n = len(self._signals)
        self._min_green_s = np.array([
            max(self._models[self._signals[self._phase_signal[p]]].timings[i].min_green_s
                for i, c in enumerate(s) if c in GREEN_CHARS)
            for p, s in enumerate(self._states)
        ])  # fmt: skip
        self._current = self._first.copy()  # global phase index each signal is serving
        self._green_since = np.full(n, np.nan)  # when its current phase was first shown (s)
        self._next_decision_s = np.full(n, -np.inf)

    # -- Controller ---------------------------------------------------------------------------
    def propose(
        self, now_s: float, timers: Mapping[str, SignalTimers], traffic: TrafficState
    ) -> list[SignalCommand]:
        """Decide where due, then one step toward each signal's chosen phase."""
        self._observe(now_s, timers)
        due = self._next_decision_s <= now_s + 1e-9
        if due.any():
            self._decide(now_s, due, self.pressures(traffic))
            self._next_decision_s[due] = now_s + self.decision_s
        commands = []
        for j, sid in enumerate(self._signals):
            t = timers.get(sid)
            target = self._states[self._current[j]]
            if t is None or t.state == target:
                continue
            nxt = step_toward(self._models[sid], t, target, now_s)
            if nxt != t.state:
                commands.append(SignalCommand(sid, nxt, now_s, source=self.name))
        return commands

    def pressures(self, traffic: TrafficState) -> np.ndarray:
        """Pressure of every phase (vehicles), aligned with the controller's phase order."""
        x = np.asarray(traffic.vehicle_count, dtype=float)
        in_idx, out_idx = self._lanes(traffic.lane_ids)
        x_in = np.where(in_idx >= 0, x[np.maximum(in_idx, 0)] if x.size else 0.0, 0.0)
        x_out = np.where(out_idx >= 0, x[np.maximum(out_idx, 0)] if x.size else 0.0, 0.0)
        return self._green @ (x_in - x_out)

    # -- Resumable ----------------------------------------------------------------------------
    def resume(self, signal_id: str, now_s: float, phase_index: int) -> None:
        """Serve ``signal_id`` again from the first green phase at or after ``phase_index``
        of its program; the next decision comes after its minimum green."""
        j = self._index.get(signal_id)
        if j is None:
            return
        block = range(self._first[j], self._first[j] + self._count[j])
        later = [p for p in block if self._program_k[p] >= phase_index]
        self._current[j] = later[0] if later else block[0]
        self._green_since[j] = np.nan
        self._next_decision_s[j] = now_s

    def phase_in_service(self, signal_id: str) -> int | None:
        """Program index of the phase the signal is serving."""
        j = self._index.get(signal_id)
        return None if j is None else self._program_k[self._current[j]]

    def next_green_s(self, signal_id: str, links: frozenset[int], now_s: float) -> float | None:
        """``now_s`` while its current phase shows ``links`` green; otherwise unknown (adaptive
        control cannot promise a future green)."""
        j = self._index.get(signal_id)
        if j is None or not links or np.isnan(self._green_since[j]):
            return None
        state = self._states[self._current[j]]
        return now_s if all(state[i] in GREEN_CHARS for i in links) else None

    # -- internals ----------------------------------------------------------------------------
    def _observe(self, now_s: float, timers: Mapping[str, SignalTimers]) -> None:
        for j, sid in enumerate(self._signals):
            if np.isnan(self._green_since[j]):
                t = timers.get(sid)
                if t is not None and t.state == self._states[self._current[j]]:
                    self._green_since[j] = now_s

    def _decide(self, now_s: float, due: np.ndarray, pressure: np.ndarray) -> None:
        n = len(self._signals)
        best_val = np.maximum.reduceat(pressure, self._first) if n else pressure
        is_best = pressure >= best_val[self._phase_signal] - 1e-9
        best = np.full(n, -1, dtype=np.intp)
        # the first best phase of each signal (phases of a signal are contiguous)
        cand = np.flatnonzero(is_best)
        sig = self._phase_signal[cand]
        _, first_pos = np.unique(sig, return_index=True)
        best[sig[first_pos]] = cand[first_pos]
        elapsed = now_s - self._green_since
        served = ~np.isnan(elapsed) & (elapsed >= self._min_green_s[self._current])
        cur_p = pressure[self._current]
        gain = best_val - cur_p
        switch = due & served & (best != self._current) & (gain >= self.hysteresis_veh)
        # At max green, the best *other* phase takes over (if any other has pressure >= 0).
        tired = due & served & (elapsed >= self.max_green_s) & (self._count > 1)
        for j in np.flatnonzero(tired & ~switch):
            block = np.arange(self._first[j], self._first[j] + self._count[j])
            others = block[block != self._current[j]]
            best[j] = others[np.argmax(pressure[others])]
            switch[j] = True
        changed = np.flatnonzero(switch)
        self._current[changed] = best[changed]
        self._green_since[changed] = np.nan

    def _lanes(self, lane_ids: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        if self._lane_map is None or self._lane_map[0] is not lane_ids:
            pos = {lane: i for i, lane in enumerate(lane_ids)}
            in_idx = np.array([pos.get(x, -1) if x else -1 for x in self._in_lanes], dtype=np.intp)
            out_idx = np.array([pos.get(x, -1) if x else -1 for x in self._out_lanes], dtype=np.intp)
            self._lane_map = (lane_ids, in_idx, out_idx)
        return self._lane_map[1], self._lane_map[2]
