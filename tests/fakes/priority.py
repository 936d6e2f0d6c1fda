"""Fakes for priority control without SUMO: a priority vehicle driven along its route against
the states a :class:`~tests.fakes.junctions.FakeSignals` shows, a feed that reports it, and a
harness that runs a :class:`~clearway.control.runtime.ControlLoop` tick by tick.

The vehicle is deliberately simple and independent of clearway's planner: it drives its route
at a constant cruise speed (road edges, then the path through each junction), and at a
signalised stop line it stops unless one of its movements (approach edge -> next edge) shows
green; it starts again as soon as one does. It records when it reached each stop line and what
the signal showed then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clearway.control.priority.request import EdgePlace, PositionUpdate
from clearway.network.model import Network

GREEN = frozenset("Ggs")


@dataclass(frozen=True)
class Crossing:
    """A signalised junction on the vehicle's route."""

    junction_id: str
    signal_id: str
    approach_edge: str
    next_edge: str
    stop_s: float  # distance along the route of the stop line (m)
    core: frozenset[int]  # signal indices of the movements approach -> next


@dataclass
class Arrival:
    """The vehicle at a stop line: when it got there, what the signal showed, and when it left."""

    crossing: Crossing
    reached_s: float
    shown: str
    stopped: bool = False
    left_s: float | None = None


def movement_links(net: Network, signal_id: str, approach: str, nxt: str) -> frozenset[int]:
    """Signal indices of the links from edge ``approach`` onto edge ``nxt``."""
    return frozenset(
        lk.signal_index
        for lk in net.signal_links(signal_id)
        if lk.from_edge == approach and lk.to_edge == nxt and lk.signal_index >= 0
    )


def signal_of(net: Network, junction_id: str) -> str | None:
    for tl in net.traffic_lights.values():
        if junction_id in tl.junction_ids:
            return tl.id
    return None


class DrivenVehicle:
    """A priority vehicle on ``route`` from ``start_offset_m`` on its first edge (see module doc).

    Parameters
    ----------
    net, route
        The network and the edges to drive.
    speed_mps
        Cruise speed (m/s).
    start_offset_m
        Position on the first edge at the start (m).
    obey_signals
        Stop at a stop line whose movements are all red (else drive through, recording it).
    """

    def __init__(
        self,
        net: Network,
        route: Sequence[str],
        *,
        speed_mps: float = 13.89,
        start_offset_m: float = 0.0,
        obey_signals: bool = True,
    ) -> None:
        self.net = net
        self.route = tuple(route)
        self.cruise_mps = speed_mps
        self.obey = obey_signals
        # Segments along the route: (kind, edge or junction id, start, length).
        self.segments: list[tuple[str, str, float, float]] = []
        self.crossings: list[Crossing] = []
        s = 0.0
        for i, e in enumerate(self.route):
            edge = net.edge(e)
            self.segments.append(("edge", e, s, edge.length_m))
            s += edge.length_m
            if i + 1 < len(self.route):
                nxt = self.route[i + 1]
                j = edge.to_junction
                length = max((lk.length_m for lk in _links_between(net, e, nxt)), default=0.0)
                length = length or 5.0
                sid = signal_of(net, j)
                if sid is not None:
                    core = movement_links(net, sid, e, nxt)
                    assert core, f"signal {sid} drives no movement {e} -> {nxt}"
                    self.crossings.append(Crossing(j, sid, e, nxt, s, core))
                self.segments.append(("junction", j, s, length))
                s += length
        self.length_m = s
        self.s = min(start_offset_m, net.edge(self.route[0]).length_m)
        self.speed_mps = speed_mps
        self.time_s: float | None = None
        self.arrivals: list[Arrival] = []
        self.stops = 0

    @property
    def arrived(self) -> bool:
        return self.s >= self.length_m - 1e-9

    def place(self) -> tuple[str, float]:
        """(edge id, offset) now; inside a junction an internal edge id ``:J_0``."""
        s = min(self.s, self.length_m)
        for kind, ident, start, length in self.segments:
            # a vehicle waiting at a stop line is still on its approach edge (at its end)
            end = start + length
            if s < end or (kind == "edge" and (s <= end or ident == self.route[-1])):
                if kind == "edge":
                    return ident, min(max(s - start, 0.0), length)
                return f":{ident}_0", s - start
        last = self.segments[-1]
        return last[1], last[3]

    def arrival(self, junction_id: str) -> Arrival | None:
        return next((a for a in self.arrivals if a.crossing.junction_id == junction_id), None)

    def drive(self, now_s: float, shown: Mapping[str, str]) -> None:
        """Move to time ``now_s``; ``shown`` is what the signals showed since the last call."""
        if self.time_s is None:
            self.time_s = now_s
            return
        dt = now_s - self.time_s
        self.time_s = now_s
        if self.arrived or dt <= 0:
            return
        if self.cruise_mps <= 0.0:
            self.speed_mps = 0.0
            return
        t0 = now_s - dt
        budget = self.cruise_mps * dt
        while budget > 1e-9 and not self.arrived:
            ahead = [c for c in self.crossings if c.stop_s >= self.s - 1e-9 and not self._passed(c)]
            nxt = ahead[0] if ahead else None
            if nxt is None or nxt.stop_s - self.s > budget:
                self.s = min(self.s + budget, self.length_m)
                self.speed_mps = self.cruise_mps
                return
            # reaches the stop line of `nxt` within this step
            used = max(nxt.stop_s - self.s, 0.0)
            self.s = nxt.stop_s
            budget -= used
            state = shown[nxt.signal_id]
            green = any(state[i] in GREEN for i in nxt.core)
            arr = self.arrival(nxt.junction_id)
            if arr is None:
                at = t0 + used / self.cruise_mps
                arr = Arrival(nxt, at, state)
                self.arrivals.append(arr)
            if green or not self.obey:
                arr.left_s = t0 + (self.cruise_mps * dt - budget) / self.cruise_mps
                self.s += 1e-6  # over the line
                continue
            if not arr.stopped:
                arr.stopped = True
                self.stops += 1
            self.speed_mps = 0.0
            return

    def _passed(self, c: Crossing) -> bool:
        arr = self.arrival(c.junction_id)
        return arr is not None and arr.left_s is not None


def _links_between(net: Network, a: str, b: str):
    j = net.edge(a).to_junction
    return [
        lk
        for tl in net.traffic_lights.values()
        for lk in net.signal_links(tl.id)
        if lk.junction_id == j and lk.from_edge == a and lk.to_edge == b
    ]


@dataclass
class FakeFeed:
    """A PriorityVehicleFeed reporting driven vehicles by requester id, at the clock's time.

    ``silent_from_s`` per vehicle: from then on its updates stop (a lost feed); a vehicle that
    has reached the end of its route is absent (it left the network).
    """

    clock: object
    vehicles: dict[str, DrivenVehicle] = field(default_factory=dict)
    silent_from_s: dict[str, float] = field(default_factory=dict)
    extra: dict[str, PositionUpdate] = field(default_factory=dict)

    def priority_positions(self) -> Mapping[str, PositionUpdate]:
        now = self.clock.now_s()  # type: ignore[attr-defined]
        out: dict[str, PositionUpdate] = {}
        for vid, v in self.vehicles.items():
            if v.arrived or now >= self.silent_from_s.get(vid, float("inf")):
                continue
            edge, offset = v.place()
            out[vid] = PositionUpdate(
                time_s=now, place=EdgePlace(edge_id=edge, offset_m=offset), speed_mps=v.speed_mps
            )
        out.update(self.extra)
        return out


class PriorityRun:
    """A control loop with a :class:`PreemptionController` over fake signals, fake clock and a
    fake feed, on a real network's intersection models and the real safety guard.

    Every signal starts in the first phase of its default program. :meth:`step` moves the
    vehicles to the clock's time (against what the signals showed during the last tick), runs
    one tick and lets one tick of time pass; ``held`` records the held signals of every tick.
    """

    def __init__(
        self, net: Network, models, policy, *, hold_max_s: float = 120.0, normal: str = "fixed-time"
    ) -> None:
        from clearway.control.fixed_time import FixedTimeController
        from clearway.control.max_pressure import MaxPressureController
        from clearway.control.priority.preemption import PreemptionController
        from clearway.control.runtime import ControlLoop
        from clearway.signals.safety import SafetyGuard
        from tests.fakes.junctions import FakeSignals

        self.net = net
        self.models = models
        programs = {sid: net.traffic_lights[sid].default_program for sid in models}
        self.fake = FakeSignals({sid: programs[sid].phases[0].state for sid in models})
        self.feed = FakeFeed(self.fake)
        self.normal = (
            MaxPressureController(net, models, programs, max_green_s=30.0)
            if normal == "max-pressure"
            else FixedTimeController(models, programs)
        )
        self.ctrl = PreemptionController(
            self.normal, net, models, programs, self.feed, policy, hold_max_s=hold_max_s
        )
        self.loop = ControlLoop(self.fake, self.fake, self.fake, SafetyGuard(models), self.ctrl)
        self.held: list[tuple[float, frozenset[str]]] = []
        #: Per tick, where every vehicle was (distance along its route, m) when it was reported.
        self.trace: list[tuple[float, dict[str, float]]] = []

    @property
    def now_s(self) -> float:
        return self.fake.now_s()

    def add_vehicle(self, vid: str, vehicle: DrivenVehicle) -> None:
        vehicle.time_s = self.now_s
        self.feed.vehicles[vid] = vehicle

    def step(self) -> None:
        now = self.now_s
        for v in self.feed.vehicles.values():
            v.drive(now, self.fake.states)
        self.trace.append((now, {vid: v.s for vid, v in self.feed.vehicles.items()}))
        self.loop.tick()
        self.held.append((now, self.ctrl.held))
        self.fake.advance(1.0)

    def run(self, duration_s: float) -> None:
        end = self.now_s + duration_s
        while self.now_s < end - 1e-9:
            self.step()

    def run_until(self, cond, limit_s: float) -> bool:
        end = self.now_s + limit_s
        while self.now_s < end - 1e-9:
            if cond():
                return True
            self.step()
        return cond()

    def held_times(self, sid: str) -> list[float]:
        return [t for t, h in self.held if sid in h]

    def held_spans(self, sid: str) -> list[tuple[float, float]]:
        """Contiguous stretches of ticks ``(first, last)`` during which ``sid`` was held."""
        spans: list[tuple[float, float]] = []
        for t in self.held_times(sid):
            if spans and t - spans[-1][1] <= 1.0 + 1e-9:
                spans[-1] = (spans[-1][0], t)
            else:
                spans.append((t, t))
        return spans

    def shown_at(self, sid: str, t: float) -> str:
        """What ``sid`` showed at time ``t`` (the last change at or before it)."""
        return [s for at, s in self.fake.shown[sid] if at <= t + 1e-9][-1]
