"""Where a bus's GPS fix (a GTFS-realtime VehiclePosition: lat, lon, bearing, speed) puts it
on its line.

The fix goes through the matcher priority vehicles' fixes use
(:func:`~clearway.network.matching.match_step`, one trace per bus, the line's edges as the
route prior; :func:`~clearway.network.geo.lonlat_to_xy` for WGS84). A bus does not leave its
line: a fix matched to another street counts as the line while it is within
:data:`~clearway.control.priority.route_fit.ROUTE_KEEP_SIGMAS` of its accuracy of it
(:func:`~clearway.control.priority.route_fit.nearest_on_route`), and is refused beyond that
(:class:`BusFixError`, ``off_line``), as is a fix far from every lane (``no_lane``) or on a
net without geo-reference (``no_geo``). The matcher's state per bus is memory only: dropped
when the bus starts another trip, when it is not heard of for ``stale_s``, and on
:meth:`BusFixes.reset` (PRIVACY.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clearway.control.priority.bus_board import BusLine
from clearway.control.priority.gps_fixes import DEFAULT_ACCURACY_M
from clearway.control.priority.route_fit import ROUTE_KEEP_SIGMAS, nearest_on_route
from clearway.errors import ClearwayError, NetworkError
from clearway.network.geo import lonlat_to_xy
from clearway.network.graph import RoutingGraph, build_routing_graph
from clearway.network.matching import MatchError, MatchState, match_step
from clearway.network.model import Network

#: SUMO vehicle class whose lanes bus fixes are matched to.
BUS_VCLASS = "bus"


class BusFixError(ClearwayError):
    """A bus's fix cannot be placed on its line.

    Attributes
    ----------
    reason
        ``no_geo`` (the net has no geo-reference), ``no_lane`` (no lane a bus may use near
        the fix) or ``off_line`` (too far from the bus's line). The message gives distances,
        never the fix's coordinates (it reaches the audit log).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Trace:
    trip_id: str
    state: MatchState
    #: Index in the line of the edge the last fix was placed on (the bus does not go back).
    index: int
    time_s: float


class BusFixes:
    """Per bus, the map matcher's trace of its fixes along its line.

    Parameters
    ----------
    net
        The network (geo-referenced for WGS84 fixes).
    graph
        Returns the routing graph of buses' lanes (built on first use); default
        ``build_routing_graph(net, "bus")``.
    """

    def __init__(self, net: Network, graph: Callable[[], RoutingGraph] | None = None) -> None:
        self.net = net
        self._graph_fn = graph
        self._graph: RoutingGraph | None = None
        self._traces: dict[str, _Trace] = {}

    @property
    def tracked(self) -> frozenset[str]:
        """Buses that hold a matcher state."""
        return frozenset(self._traces)

    def _routing_graph(self) -> RoutingGraph:
        if self._graph is None:
            self._graph = (
                self._graph_fn() if self._graph_fn else build_routing_graph(self.net, BUS_VCLASS)
            )
        return self._graph

    def place(
        self,
        vehicle_id: str,
        trip_id: str,
        line: BusLine,
        lon: float,
        lat: float,
        time_s: float,
        bearing_deg: float | None = None,
        speed_mps: float | None = None,
        accuracy_m: float = DEFAULT_ACCURACY_M,
    ) -> tuple[str, float]:
        """The (edge of ``line``, offset m) a WGS84 fix puts the bus at.

        Parameters
        ----------
        vehicle_id, trip_id, line
            The bus, the trip it runs and that trip's line.
        lon, lat
            The fix (WGS84 degrees).
        time_s
            Its time (s, increasing along a bus's fixes; the board's clock).
        bearing_deg, speed_mps
            Compass bearing (deg, 0 = north, clockwise) and speed (m/s), if the feed gives them.
        accuracy_m
            1-sigma position error (m).

        Raises
        ------
        BusFixError
            ``no_geo``, ``no_lane`` or ``off_line`` (see the class); the bus's trace is kept
            as it was (the next fix goes on from it).
        """
        try:
            x_m, y_m = lonlat_to_xy(self.net.geo, lon, lat)
        except NetworkError as exc:
            raise BusFixError("no_geo", str(exc)) from None
        try:
            graph = self._routing_graph()
        except ClearwayError as exc:
            raise BusFixError("no_lane", f"no lane of the network takes buses: {exc}") from None
        trace = self._traces.get(vehicle_id)
        if trace is not None and (trace.trip_id != trip_id or time_s <= trace.time_s):
            trace = None  # another trip (or a clock gone back): a new trace
        state = trace.state if trace is not None else MatchState()
        try:
            state, m = match_step(
                self.net, graph, state, x_m, y_m, time_s, bearing_deg, speed_mps, accuracy_m,
                route_edges=frozenset(line.edges),
            )  # fmt: skip
        except MatchError:
            radius = max(4.0 * max(accuracy_m, 3.0), 25.0)
            raise BusFixError(
                "no_lane", f"no lane a bus may use within {radius:.0f} m of the fix"
            ) from None
        start = trace.index if trace is not None else 0
        if m.edge_id in line.edges[start:]:
            edge, offset = m.edge_id, m.offset_m
        else:
            # Matched to a junction's inside or another street: the line itself while the
            # fix is as near it as its error allows (the bus does not leave its line).
            near = nearest_on_route(self.net, line.edges, x_m, y_m, start=start)
            keep_m = ROUTE_KEEP_SIGMAS * accuracy_m
            if near is None or near.distance_m > keep_m:
                dist = "no lane" if near is None else f"{near.distance_m:.0f} m"
                raise BusFixError(
                    "off_line",
                    f"the fix is off line {line.line_id!r} of trip {trip_id!r}: its nearest "
                    f"point ahead of the bus is {dist} away, more than {keep_m:.0f} m "
                    f"({ROUTE_KEEP_SIGMAS:g} x the fix's {accuracy_m:g} m accuracy)",
                )
            edge, offset = near.edge_id, near.offset_m
        index = line.edges.index(edge, start)
        self._traces[vehicle_id] = _Trace(trip_id, state, index, time_s)
        return edge, offset

    def drop(self, vehicle_id: str) -> None:
        """Forget a bus's trace (no error if unknown)."""
        self._traces.pop(vehicle_id, None)

    def prune(self, now_s: float, stale_s: float) -> None:
        """Forget the traces of buses not placed within ``stale_s`` of ``now_s`` (s)."""
        for vid in [v for v, t in self._traces.items() if now_s - t.time_s > stale_s]:
            del self._traces[vid]

    def reset(self) -> None:
        """Forget every trace (the clock they were timed on started again)."""
        self._traces.clear()


__all__ = ["BUS_VCLASS", "BusFixError", "BusFixes"]
