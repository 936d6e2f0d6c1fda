"""Fixed-time control with conditional transit priority: late buses stretch or advance greens.

The signals run their programs exactly as :class:`~clearway.control.fixed_time.FixedTimeController`
does, except that each tick the green phase shown may end a little later (a late bus served by
it is still on its way) or a little earlier (the next phase serves a late bus waiting or
arriving) — :func:`clearway.control.priority.transit.decide` says when. After an early green the
bus's phase ends at the program's own time, so the cycle stays where it was; after an
extension the following phases win the time back as after any lengthened transition. No phase
is ever skipped or cut below its minimum green, and every command still passes the guard.

Buses are never priority requests: this controller is the *normal* controller under a
:class:`~clearway.control.priority.preemption.PreemptionController`, which takes a signal away
from it for an emergency vehicle or a convoy — a bus cannot displace such a hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from clearway.control.fixed_time import FixedTimeController, _Cursor
from clearway.control.priority.transit import (
    Action,
    BusCall,
    PhaseWindow,
    Served,
    TransitSettings,
    decide,
    is_late,
)
from clearway.network.model import Network, SignalProgram
from clearway.signals.model import GREEN_CHARS, YELLOW_CHARS, Intersection
from clearway.signals.safety.commands import SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.state.traffic import TrafficState

#: A bus farther than this from the stop line is not considered yet (m).
DETECT_M = 250.0


@dataclass(frozen=True, slots=True)
class BusApproach:
    """Where a bus is, where it goes next, and how late it runs.

    Attributes
    ----------
    vehicle_id
        The bus (its fleet number; never a private vehicle).
    edge_id, offset_m, speed_mps
        The edge it is on, how far along (m), its speed (m/s).
    next_edge_id
        The edge after ``edge_id`` on its line (``None`` at the line's end).
    lateness_s
        How late it runs against its schedule (s, positive = late).
    dwelling
        True while it stands at a stop serving passengers (no signal can help it then).
    """

    vehicle_id: str
    edge_id: str
    offset_m: float
    speed_mps: float
    next_edge_id: str | None
    lateness_s: float
    dwelling: bool = False


@dataclass(frozen=True, slots=True)
class TransitAction:
    """One green moved for late buses.

    Attributes
    ----------
    time_s
        When (s, traffic time): an early green when its phase was cut, an extension when the
        stretched phase ended.
    signal_id
        The signal.
    action
        ``extend`` or ``early``.
    moved_s
        How far the phase end moved (s).
    vehicle_ids
        The late buses it was for (fleet numbers).
    """

    time_s: float
    signal_id: str
    action: str
    moved_s: float
    vehicle_ids: tuple[str, ...]


class BusSource(Protocol):
    """Where the buses are now (from the twin, an AVL feed, or GTFS-realtime)."""

    def bus_approaches(self, now_s: float) -> Sequence[BusApproach]:
        """The buses on the network now."""
        ...


def is_green_phase(state: str) -> bool:
    """A phase that serves traffic: some link green and none yellow."""
    return any(c in GREEN_CHARS for c in state) and not any(c in YELLOW_CHARS for c in state)


class TransitFixedTimeController(FixedTimeController):
    """Fixed-time control plus conditional priority for late buses.

    Parameters
    ----------
    net, intersections, programs
        The network, the intersection model and the program to run per signal id.
    buses
        Where the buses are and how late.
    settings
        Threshold and limits (:class:`~clearway.control.priority.transit.TransitSettings`).
    detect_m
        Buses farther from the stop line are ignored (m).
    """

    name = "fixed-time+transit"

    def __init__(
        self,
        net: Network,
        intersections: Mapping[str, Intersection],
        programs: Mapping[str, SignalProgram],
        buses: BusSource,
        settings: TransitSettings | None = None,
        *,
        detect_m: float = DETECT_M,
        **kwargs: float | bool,
    ) -> None:
        super().__init__(intersections, programs, **kwargs)  # type: ignore[arg-type]
        self.net = net
        self.buses = buses
        self.settings = settings or TransitSettings()
        self.detect_m = detect_m
        self._approach_links: dict[str, list[tuple[str, str, int]]] = {}
        for sid in self._programs:
            for lk in net.signal_links(sid):
                if lk.signal_index >= 0:
                    self._approach_links.setdefault(lk.from_edge, []).append(
                        (sid, lk.to_edge, lk.signal_index)
                    )
        self._calls: dict[str, list[tuple[frozenset[int], float, float, str]]] = {}
        #: Per signal after an early green: the phase index of the bus's green.
        self._early: dict[str, int] = {}
        #: Transit actions taken: (time s, signal id, action, seconds moved).
        self.actions: list[tuple[float, str, str, float]] = []
        #: The same with the buses each was for; a reader may drain it (:meth:`take_decisions`).
        self.decisions: list[TransitAction] = []
        self._extending: dict[str, float] = {}
        self._extending_for: dict[str, tuple[str, ...]] = {}
        self._sid_of: dict[int, str] = {}

    def propose(
        self, now_s: float, timers: Mapping[str, SignalTimers], traffic: TrafficState
    ) -> list[SignalCommand]:
        """Read the buses, then run the programs with their phase ends moved for late buses."""
        self._calls = self._bus_calls(now_s)
        self._sid_of = {id(c): sid for sid, c in self._cursors.items()}
        return super().propose(now_s, timers, traffic)

    def take_decisions(self) -> list[TransitAction]:
        """The transit actions taken since the last call (and forget them)."""
        out, self.decisions = self.decisions, []
        return out

    def resume(self, signal_id: str, now_s: float, phase_index: int) -> None:
        """As the fixed-time controller; an early green pending at the signal is dropped."""
        self._early.pop(signal_id, None)
        self._extending.pop(signal_id, None)
        self._extending_for.pop(signal_id, None)
        super().resume(signal_id, now_s, phase_index)

    def next_green_s(self, signal_id: str, links: frozenset[int], now_s: float) -> float | None:
        """As the fixed-time controller, but later by the most a bus may stretch a green: a
        priority policy trusting the schedule must not be surprised by an extension."""
        t = super().next_green_s(signal_id, links, now_s)
        return t if t is None or t <= now_s else t + self.settings.max_extension_s

    # -- internals --------------------------------------------------------------------------
    def _bus_calls(self, now_s: float) -> dict[str, list[tuple[frozenset[int], float, float, str]]]:
        """Per signal, each bus approaching it: its links there, ETA (s), lateness (s), id."""
        out: dict[str, list[tuple[frozenset[int], float, float, str]]] = {}
        for bus in self.buses.bus_approaches(now_s):
            entries = self._approach_links.get(bus.edge_id)
            if not entries or bus.dwelling:
                continue
            edge = self.net.edge(bus.edge_id)
            left_m = max(edge.length_m - bus.offset_m, 0.0)
            if left_m > self.detect_m:
                continue
            speed = max(bus.speed_mps, 0.5 * edge.speed_mps)
            eta = now_s + left_m / speed
            by_signal: dict[str, set[int]] = {}
            for sid, to_edge, idx in entries:
                if bus.next_edge_id is None or to_edge == bus.next_edge_id:
                    by_signal.setdefault(sid, set()).add(idx)
            for sid, links in by_signal.items():
                out.setdefault(sid, []).append(
                    (frozenset(links), eta, bus.lateness_s, bus.vehicle_id)
                )
        return out

    def _window(
        self, sid: str, cur: _Cursor, end_s: float
    ) -> tuple[PhaseWindow, list[BusCall], list[str]] | None:
        """The shown green phase's window, the bus calls at ``sid`` and their buses' ids, or
        ``None`` when no bus calls or the phase is not a green one."""
        calls = self._calls.get(sid)
        state = cur.states[cur.k]
        if not calls or cur.shown_at_s is None or not is_green_phase(state):
            return None
        n = len(cur.states)
        j, gap = (cur.k + 1) % n, 0.0
        while not is_green_phase(cur.states[j]) and j != cur.k:
            gap += cur.durations_s[j]
            j = (j + 1) % n
        model = self._models[sid]
        greens = [i for i, c in enumerate(state) if c in GREEN_CHARS]
        floor = cur.shown_at_s + max((model.timings[i].min_green_s for i in greens), default=0.0)

        def served(links: frozenset[int]) -> Served:
            if all(state[i] in GREEN_CHARS for i in links):
                return Served.NOW
            if j != cur.k and all(cur.states[j][i] in GREEN_CHARS for i in links):
                return Served.NEXT
            return Served.LATER

        kept = [(BusCall(eta, late, served(lk)), vid) for lk, eta, late, vid in calls if lk]
        return PhaseWindow(end_s, floor, gap), [c for c, _ in kept], [v for _, v in kept]

    def _for(
        self, calls: list[BusCall], vids: list[str], served: Served, window: PhaseWindow
    ) -> tuple[str, ...]:
        """The late buses served ``served`` that the decision was for (ids, sorted)."""
        reach = window.normal_end_s + self.settings.max_extension_s
        out = set()
        for c, vid in zip(calls, vids, strict=True):
            if not is_late(c, self.settings) or c.served is not served:
                continue
            if served is Served.NOW and c.eta_s + self.settings.pass_s > reach:
                continue
            if served is Served.NEXT and c.eta_s >= window.normal_end_s + window.gap_s:
                continue
            out.add(vid)
        return tuple(sorted(out))

    @staticmethod
    def _next_green(cur: _Cursor) -> int:
        n = len(cur.states)
        j = (cur.k + 1) % n
        while not is_green_phase(cur.states[j]) and j != cur.k:
            j = (j + 1) % n
        return j

    def _advance(self, cur: _Cursor, shown: str, now_s: float) -> str:
        sid = self._sid_of.get(id(cur))
        if sid is None or shown != cur.states[cur.k]:
            return super()._advance(cur, shown, now_s)
        if cur.shown_at_s is None:
            cur.shown_at_s = now_s
        duration = cur.durations_s[cur.k]
        if self._early.get(sid) == cur.k:
            # The bus's green came early: it ends when the program would have ended it.
            end = cur.nominal_start_s + duration
        else:
            late_s = max(cur.shown_at_s - cur.nominal_start_s, 0.0)
            end = cur.shown_at_s + max(duration - late_s, min(duration, self.absorb_floor_s))
        normal_end = end
        found = self._window(sid, cur, end)
        if found is not None:
            window, calls, vids = found
            decision = decide(window, calls, self.settings, now_s)
            end = decision.end_s
            if now_s >= end and decision.action is Action.EARLY:
                self._early[sid] = self._next_green(cur)
                self.actions.append((now_s, sid, Action.EARLY.value, normal_end - now_s))
                self.decisions.append(TransitAction(
                    now_s, sid, Action.EARLY.value, normal_end - now_s,
                    self._for(calls, vids, Served.NEXT, window),
                ))  # fmt: skip
            if decision.action is Action.EXTEND:
                self._extending[sid] = max(self._extending.get(sid, 0.0), end - normal_end)
                self._extending_for[sid] = tuple(sorted(
                    {*self._extending_for.get(sid, ()), *self._for(calls, vids, Served.NOW, window)}
                ))  # fmt: skip
        if now_s >= end:
            if self._early.get(sid) == cur.k:
                del self._early[sid]
            buses = self._extending_for.pop(sid, ())
            if self._extending.pop(sid, 0.0) > 0 and now_s > normal_end:
                self.actions.append((now_s, sid, Action.EXTEND.value, now_s - normal_end))
                self.decisions.append(
                    TransitAction(now_s, sid, Action.EXTEND.value, now_s - normal_end, buses)
                )
            self._next(cur, now_s)
        return cur.states[cur.k]
