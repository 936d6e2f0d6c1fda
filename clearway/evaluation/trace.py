"""What a priority vehicle saw, tick by tick: where it was on its route and what its lights showed.

For the time-space diagram: per tick the lead's distance along its route and speed (and a
convoy's tail's distance), and for every signal on the route the aspect of the vehicle's *own*
movement there — green, yellow or red — from the states the simulator showed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from clearway.control.priority.arbitration import claim_links
from clearway.control.priority.corridor import signal_of_junction
from clearway.control.priority.request import EdgePlace, PositionUpdate
from clearway.network.model import Network
from clearway.network.routing import Route
from clearway.signals.model import GREEN_CHARS, YELLOW_CHARS

GREEN, YELLOW, RED = "G", "Y", "R"


@dataclass(frozen=True, slots=True)
class SignalOnRoute:
    """A signal the route crosses.

    Attributes
    ----------
    signal_id, junction_id
        The traffic light and the junction.
    distance_m
        Distance from the route's start to the stop line (m).
    core_links
        Signal indices of the vehicle's own movement there.
    """

    signal_id: str
    junction_id: str
    distance_m: float
    core_links: tuple[int, ...]


def signals_on_route(net: Network, route: Route) -> tuple[SignalOnRoute, ...]:
    """Every signalised junction the route crosses, in driving order."""
    signals = signal_of_junction(net)
    out = []
    for i, junction in enumerate(route.junctions):
        sid = signals.get(junction)
        if sid is None:
            continue
        core, _ = claim_links(net, sid, route.edges[i], route.edges[i + 1])
        out.append(SignalOnRoute(sid, junction, route.end_lengths_m[i], tuple(sorted(core))))
    return tuple(out)


def aspect(state: str, links: tuple[int, ...]) -> str:
    """G, Y or R: the best any of ``links`` shows in ``state`` (the vehicle may use any)."""
    chars = {state[i] for i in links if i < len(state)}
    if chars & GREEN_CHARS:
        return GREEN
    if chars & YELLOW_CHARS:
        return YELLOW
    return RED


@dataclass(frozen=True)
class Trace:
    """The tick-by-tick record of one trip (JSON-ready via :meth:`to_dict`).

    ``distance_m`` / ``tail_distance_m`` are ``nan`` while the vehicle is not on the network;
    ``aspects[k][t]`` is the aspect of signal ``signals[k]`` at ``time_s[t]``.
    """

    trip_id: str
    time_s: tuple[float, ...]
    distance_m: tuple[float, ...]
    speed_mps: tuple[float, ...]
    tail_distance_m: tuple[float, ...]
    signals: tuple[SignalOnRoute, ...]
    aspects: tuple[str, ...]
    route_length_m: float

    def to_dict(self) -> dict:
        """Plain dict (nan as None) for JSON."""
        return {
            "trip_id": self.trip_id,
            "route_length_m": round(self.route_length_m, 2),
            "time_s": list(self.time_s),
            "distance_m": [_num(x) for x in self.distance_m],
            "speed_mps": [_num(x) for x in self.speed_mps],
            "tail_distance_m": [_num(x) for x in self.tail_distance_m],
            "signals": [
                {"signal_id": s.signal_id, "junction_id": s.junction_id,
                 "distance_m": round(s.distance_m, 2), "aspects": a}
                for s, a in zip(self.signals, self.aspects, strict=True)
            ],
        }  # fmt: skip


class TraceRecorder:
    """Builds a :class:`Trace` from the feed and the signal states, one tick at a time.

    Parameters
    ----------
    net, route
        The network and the trip's route.
    trip_id, lead_id, tail_id
        The trip and the vehicle ids of its lead and tail (the same for one vehicle).
    """

    def __init__(self, net: Network, route: Route, trip_id: str, lead_id: str, tail_id: str):
        self.trip_id = trip_id
        self.lead_id = lead_id
        self.tail_id = tail_id
        self.route = route
        self.signals = signals_on_route(net, route)
        self._index = {e: i for i, e in enumerate(route.edges)}
        self._last_edge: dict[str, int] = {}
        self._last_distance: dict[str, float] = {}
        self._t: list[float] = []
        self._d: list[float] = []
        self._v: list[float] = []
        self._tail: list[float] = []
        self._aspects: list[list[str]] = [[] for _ in self.signals]
        #: True once the lead or the tail has been seen on the route.
        self.seen = False

    def record(
        self, now_s: float, positions: Mapping[str, PositionUpdate], states: Mapping[str, str]
    ) -> None:
        """Add one tick."""
        lead = positions.get(self.lead_id)
        self._t.append(now_s)
        self._d.append(self._distance(self.lead_id, lead))
        self._v.append(lead.speed_mps if lead is not None else math.nan)
        tail = positions.get(self.tail_id) if self.tail_id != self.lead_id else lead
        self._tail.append(self._distance(self.tail_id, tail))
        self.seen = self.seen or not (math.isnan(self._d[-1]) and math.isnan(self._tail[-1]))
        for k, sig in enumerate(self.signals):
            state = states.get(sig.signal_id, "")
            self._aspects[k].append(aspect(state, sig.core_links))

    def result(self) -> Trace:
        """The trace so far."""
        return Trace(
            trip_id=self.trip_id,
            time_s=tuple(self._t),
            distance_m=tuple(self._d),
            speed_mps=tuple(self._v),
            tail_distance_m=tuple(self._tail),
            signals=self.signals,
            aspects=tuple("".join(a) for a in self._aspects),
            route_length_m=self.route.length_m,
        )

    def _distance(self, vid: str, pos: PositionUpdate | None) -> float:
        if pos is None or not isinstance(pos.place, EdgePlace):
            return math.nan
        edge, offset = pos.place.edge_id, pos.place.offset_m
        r = self.route
        i = self._index.get(edge)
        if i is not None:
            self._last_edge[vid] = i
            self._last_distance[vid] = r.end_lengths_m[i] - r.edge_lengths_m[i] + offset
            return self._last_distance[vid]
        last = self._last_edge.get(vid)
        if last is None or last + 1 >= len(r.edges):
            return math.nan
        # Inside a junction: past the stop line of the last road edge, never beyond the start
        # of the next one, and never backwards — a passage through a cluster is several
        # internal edges, each measured from its own start.
        next_start = r.end_lengths_m[last + 1] - r.edge_lengths_m[last + 1]
        d = max(min(r.end_lengths_m[last] + offset, next_start), self._last_distance[vid])
        self._last_distance[vid] = d
        return d


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 2)
