"""Phase-choosing controllers, vectorised over the whole city: the common part.

Adaptive controllers (max-pressure, actuated) choose, for every signal, one of the green phases
of its program (the guard-safe form of them), so a junction only ever shows phase combinations
its traffic engineers designed. This module holds what they share: the table of every phase of
every signal as arrays and one sparse phase x link matrix (so a city-wide decision is a few
numpy operations), the per-lane detector lookup of each link (pedestrian crossings have no
detector lane: their demand is the people calling for them, :mod:`clearway.control.ped_calls`),
the bookkeeping of which phase each signal serves since when, the hand-back after a priority
hold (:class:`Resumable`), and the step toward each chosen phase through yellow and clearance.
Subclasses implement :meth:`PhaseController._decide`.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import compress
from operator import is_not

import numpy as np
import scipy.sparse as sp

from clearway.control.ped_calls import PedestrianCalls
from clearway.network.model import Network, SignalProgram
from clearway.signals.model import GREEN_CHARS, YELLOW_CHARS, Intersection
from clearway.signals.programs import safe_phase_states
from clearway.signals.safety.commands import SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.signals.transition import PlanCache, follow_or_wake
from clearway.state.traffic import TrafficState


class PhaseController:
    """Base of the vectorised phase-choosing controllers (see the module docstring).

    Parameters
    ----------
    net, intersections, programs
        The network, the intersection model and the program per signal id.
    decision_s
        Time between two decisions of a signal (s).
    max_green_s
        Longest a phase keeps its green while another phase has demand (s).
    """

    name = "phase-control"
    uses_traffic_state = True

    def __init__(
        self,
        net: Network,
        intersections: Mapping[str, Intersection],
        programs: Mapping[str, SignalProgram],
        *,
        decision_s: float,
        max_green_s: float,
    ) -> None:
        if decision_s <= 0 or max_green_s <= 0:
            raise ValueError("decision_s and max_green_s must be positive")
        self.decision_s = decision_s
        self.max_green_s = max_green_s
        self._models = dict(intersections)
        self._signals: list[str] = []
        self._states: list[str] = []  # per phase: the state it shows
        self._program_k: list[int] = []  # per phase: its index in the program
        first: list[int] = []
        rows: list[int] = []
        cols: list[int] = []
        self._in_lanes: list[str | None] = []
        self._out_lanes: list[str | None] = []
        phase_of: list[tuple[str, str]] = []  # per phase: (signal id, state)
        for sid in sorted(self._models):
            program = programs.get(sid)
            if program is None:
                continue
            greens = service_phases(safe_phase_states(self._models[sid], program))
            if not greens:
                continue
            links = {lk.signal_index: lk for lk in net.signal_links(sid) if lk.signal_index >= 0}
            base = len(self._in_lanes)
            for i in range(len(greens[0][1])):
                lk = links.get(i)
                usable = lk is not None and not lk.is_crossing
                self._in_lanes.append(lk.from_lane if usable else None)
                self._out_lanes.append(lk.to_lane if usable else None)
            first.append(len(self._states))
            self._signals.append(sid)
            for k, state in greens:
                p = len(self._states)
                self._states.append(state)
                phase_of.append((sid, state))
                self._program_k.append(k)
                for i, c in enumerate(state):
                    if c in GREEN_CHARS:
                        rows.append(p)
                        cols.append(base + i)
        n_phases = len(self._states)
        self._peds = PedestrianCalls(net, phase_of)
        self._first = np.array(first, dtype=np.intp)
        self._count = np.diff(np.append(self._first, n_phases))
        self._phase_signal = np.repeat(np.arange(len(self._signals)), self._count)
        self._green = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(n_phases, len(self._in_lanes))
        )
        self._min_green_s = np.array([
            max(self._models[self._signals[self._phase_signal[p]]].timings[i].min_green_s
                for i, c in enumerate(s) if c in GREEN_CHARS)
            for p, s in enumerate(self._states)
        ])  # fmt: skip
        self._lane_map: tuple[tuple[str, ...], np.ndarray, np.ndarray] | None = None
        self._index = {sid: j for j, sid in enumerate(self._signals)}
        n = len(self._signals)
        self._current = self._first.copy()  # global phase index each signal is serving
        self._green_since = np.full(n, np.nan)  # when its current phase was first shown (s)
        self._next_decision_s = np.full(n, -np.inf)
        self._next_due_s = -np.inf if n else np.inf  # the earliest of them, asked every tick
        # signal id -> (its timers' since_s, target, time before which step_toward answers the same)
        self._waiting: dict[str, tuple[tuple[float, ...], str, float]] = {}
        self._plans = PlanCache()
        # Per signal: the timers object last seen, and whether it shows the phase served
        # (``_settled``: shows it, or is not observed at all -- nothing to step toward) for the
        # target it was compared with (``_seen_target``, -1: never compared).
        self._seen: list[SignalTimers | None] = [None] * n
        self._settled = np.zeros(n, dtype=bool)
        self._shows_target = np.zeros(n, dtype=bool)
        self._seen_target = np.full(n, -1, dtype=np.intp)

    # -- Controller ---------------------------------------------------------------------------
    def traffic_due(self, now_s: float) -> bool:
        """Whether a signal decides at ``now_s``: detectors are read only for decisions."""
        return now_s + 1e-9 >= self._next_due_s

    def propose(
        self, now_s: float, timers: Mapping[str, SignalTimers], traffic: TrafficState
    ) -> list[SignalCommand]:
        """Decide where due, then one step toward each signal's chosen phase."""
        self._refresh(timers)
        self._observe(now_s)
        due = self._next_decision_s <= now_s + 1e-9
        if due.any():
            self._decide(now_s, due, traffic)
            self._next_decision_s[due] = now_s + self.decision_s
            self._next_due_s = float(self._next_decision_s.min())
            self._refresh(None)  # the signals whose target changed
        commands = []
        waiting = self._waiting
        plans = self._plans
        states = self._states
        seen = self._seen
        current = self._current
        # Only signals not showing their target have a step to take: the others (most of a
        # city at any tick) propose nothing and cost nothing here.
        for j in np.flatnonzero(~self._settled).tolist():
            t = seen[j]
            sid = self._signals[j]
            target = states[current[j]]
            # Most signals on the way to a phase are only waiting out an interval: their next
            # step cannot change before the plan's next threshold (plan_wake_s), so it is not
            # asked. Timers get new start times (a new since_s tuple) whenever the state changes.
            held = waiting.get(sid)
            if held is not None and held[0] is t.since_s and held[1] == target and now_s < held[2]:
                continue
            plan = plans.plan(self._models[sid], t.state, target)
            nxt, wake_s = follow_or_wake(plan, t, now_s)
            if nxt is not None:
                waiting.pop(sid, None)
                commands.append(SignalCommand(sid, nxt, now_s, source=self.name))
            else:
                waiting[sid] = (t.since_s, target, wake_s)
        return commands

    # -- Resumable ----------------------------------------------------------------------------
    def resume(self, signal_id: str, now_s: float, phase_index: int) -> None:
        """Serve ``signal_id`` again from the first green phase at or after ``phase_index``
        of its program; it is decided on again after that phase's minimum green."""
        j = self._index.get(signal_id)
        if j is None:
            return
        block = range(self._first[j], self._first[j] + self._count[j])
        later = [p for p in block if self._program_k[p] >= phase_index]
        self._current[j] = later[0] if later else block[0]
        self._green_since[j] = np.nan
        self._next_decision_s[j] = now_s
        self._next_due_s = min(self._next_due_s, now_s)

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

    # -- for subclasses -----------------------------------------------------------------------
    def _decide(self, now_s: float, due: np.ndarray, traffic: TrafficState) -> None:
        """Set ``self._current`` of the ``due`` signals (bool mask) to the phase they should
        serve; clear ``_green_since`` of those that change."""
        raise NotImplementedError

    def _link_values(self, values: np.ndarray, lane_ids: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Per link, ``values`` of its incoming and of its outgoing lane (0 where no detector)."""
        in_idx, out_idx = self._lanes(lane_ids)
        v = np.asarray(values, dtype=float)
        if not v.size:
            return np.zeros(len(in_idx)), np.zeros(len(out_idx))
        return (
            np.where(in_idx >= 0, v[np.maximum(in_idx, 0)], 0.0),
            np.where(out_idx >= 0, v[np.maximum(out_idx, 0)], 0.0),
        )

    def _ped_calls(self, traffic: TrafficState) -> np.ndarray:
        """Per phase: the pedestrian calls of the crossings it shows green (people; 0 without
        pedestrian data), after taking in ``traffic`` and answering the calls of the walks
        shown now (:class:`~clearway.control.ped_calls.PedestrianCalls`)."""
        peds = self._peds
        if peds.any:
            peds.observe(traffic)
            peds.answered(self._current[self._shows_target])
        return peds.per_phase()

    def _served(self, now_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Per signal: time its current phase has been shown (s, nan if not yet), and whether
        that has reached the phase's minimum green."""
        elapsed = now_s - self._green_since
        return elapsed, ~np.isnan(elapsed) & (elapsed >= self._min_green_s[self._current])

    def _switch(self, changed: np.ndarray, to: np.ndarray) -> None:
        self._current[changed] = to[changed]
        self._green_since[changed] = np.nan

    # -- internals ----------------------------------------------------------------------------
    def _refresh(self, timers: Mapping[str, SignalTimers] | None) -> None:
        """Bring ``_settled``/``_shows_target`` up to date for the signals whose timers object
        (the loop replaces a signal's whenever what it shows changes) or target changed since
        the last look; ``timers=None``: only the targets changed."""
        seen = self._seen
        if timers is None:
            stale = []
        else:
            objs = list(map(timers.get, self._signals))
            # found in C: a tick replaces the timers of a few of a city's signals
            stale = list(compress(range(len(objs)), map(is_not, objs, seen)))
            self._seen = seen = objs
        current = self._current
        retarget = current != self._seen_target
        if retarget.any():
            stale += np.flatnonzero(retarget).tolist()
            self._seen_target[retarget] = current[retarget]
        if not stale:
            return
        states = self._states
        shows_target = self._shows_target
        settled = self._settled
        for j in stale:
            t = seen[j]
            shows = t is not None and t.state == states[current[j]]
            shows_target[j] = shows
            settled[j] = shows or t is None

    def _observe(self, now_s: float) -> None:
        # A phase's green starts counting when the signal is first seen showing it.
        started = np.isnan(self._green_since) & self._shows_target
        self._green_since[started] = now_s

    def _lanes(self, lane_ids: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        if self._lane_map is None or self._lane_map[0] is not lane_ids:
            pos = {lane: i for i, lane in enumerate(lane_ids)}
            in_idx = np.array([pos.get(x, -1) if x else -1 for x in self._in_lanes], dtype=np.intp)
            out_idx = np.array([pos.get(x, -1) if x else -1 for x in self._out_lanes], dtype=np.intp)
            self._lane_map = (lane_ids, in_idx, out_idx)
        return self._lane_map[1], self._lane_map[2]


def service_phases(states: tuple[str, ...]) -> list[tuple[int, str]]:
    """(program index, state) of the phases a phase-choosing controller may serve.

    A phase that shows yellow is a change interval, not a service phase, even where a
    continuing movement keeps its green through it: chosen as a target it could never be
    reached from red (no link turns yellow from red), so the signal would wait on it for ever.
    Programs made only of such phases (seen in imported nets) are served with their yellows
    shown red.
    """
    greens = [(k, s) for k, s in enumerate(states) if any(c in GREEN_CHARS for c in s)]
    clean = [(k, s) for k, s in greens if not any(c in YELLOW_CHARS for c in s)]
    if clean:
        return clean
    return [(k, "".join("r" if c in YELLOW_CHARS else c for c in s)) for k, s in greens]
