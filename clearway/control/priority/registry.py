"""The book of priority requests: planning their routes and following their vehicles.

Pure bookkeeping over :class:`~clearway.control.priority.lifecycle.PriorityRequest` records;
what the signals do about the requests is the preemption controller's business. Positions come
from a :class:`~clearway.ports.PriorityVehicleFeed` (keyed by ``spec.requester_id``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from clearway.control.priority.corridor import signal_of_junction
from clearway.control.priority.gps_fixes import GpsFixes
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.plausibility import implausible, place_xy, plausible_speed_mps
from clearway.control.priority.request import (
    EdgePlace,
    LonLat,
    PositionUpdate,
    PriorityRequestSpec,
    RequestState,
    XYPlace,
)
from clearway.control.priority.reroute import ReroutePolicy, RerouteState, check_route
from clearway.errors import ClearwayError, ImplausiblePositionError, RouteError, UnknownRequestError
from clearway.network.graph import RoutingGraph, build_routing_graph, edge_times_s
from clearway.network.live_times import LiveTimes
from clearway.network.model import Network
from clearway.network.routing import Route, fastest_route, replan_needed, route_of
from clearway.network.snap import snap_lonlat, snap_to_edge
from clearway.state.traffic import TrafficState

#: A position update stamped later than now by more than this is refused (s): clocks differ a
#: little, but a future stamp would stretch the lease.
FUTURE_TOLERANCE_S = 2.0
#: A dispatched vehicle not heard of yet is planned as having left on time, but as at most
#: this long on its way (s): long enough for an AVL unit's first report (a period, its
#: latency, a lost report or two), never a phantom driving the corridor away by itself.
UNHEARD_DRIVE_S = 30.0


@dataclass(frozen=True, slots=True)
class Tracked:
    """A live request with where its vehicle is on its route.

    Attributes
    ----------
    request
        The request (state ``active``).
    edge_id, offset_m, speed_mps, time_s
        The vehicle's last position on a road edge of its route (m, m/s, s). While it drives
        through a junction the last road position is kept, aged to ``time_s``.
    accuracy_m
        1-sigma error of that position along the route (m): a GPS fix fused with the ones
        before it (:mod:`~clearway.control.priority.along_track`), the report's own accuracy
        otherwise; ``None`` for an exact one.
    """

    request: PriorityRequest
    edge_id: str
    offset_m: float
    speed_mps: float
    time_s: float
    accuracy_m: float | None = None


class RequestBook:
    """All requests of one controller, by request id.

    Parameters
    ----------
    net
        The network.
    vclass
        SUMO vehicle class priority vehicles are routed for.
    """

    def __init__(self, net: Network, *, vclass: str = "emergency") -> None:
        self.net = net
        self.vclass = vclass
        self._graph: RoutingGraph | None = None
        self._junction_signal = signal_of_junction(net)
        self._requests: dict[str, PriorityRequest] = {}
        self._road_pos: dict[str, tuple[str, float, float]] = {}
        self._seq = 0
        #: Per request, where its vehicle's GPS fixes put it on its route.
        self._gps = GpsFixes(net, lambda: self.graph)
        #: Per request id, why its vehicle's last position update was not used.
        self.feed_errors: dict[str, str] = {}
        #: ... and the kind of that error (its class name).
        self.feed_error_kinds: dict[str, str] = {}
        self._vmax: float | None = None
        #: When a live vehicle gets a clearly faster route on its way, from live travel times
        #: (:mod:`~clearway.control.priority.reroute`); ``None``: only when it leaves its route.
        self.reroute: ReroutePolicy | None = None
        self._reroutes: dict[str, RerouteState] = {}
        self._live: LiveTimes | None = None

    # -- queries ----------------------------------------------------------------------------
    @property
    def requests(self) -> Mapping[str, PriorityRequest]:
        """Every request handed in (read-only view)."""
        return MappingProxyType(self._requests)

    def request(self, request_id: str) -> PriorityRequest:
        """The request; :class:`~clearway.errors.UnknownRequestError` if there is none."""
        try:
            return self._requests[request_id]
        except KeyError:
            raise UnknownRequestError(request_id, self._requests, where="this controller") from None

    def live(self, *, planned_at_s: float | None = None) -> Iterator[Tracked]:
        """Active requests whose vehicle has a known position on its route. Given the time now
        as ``planned_at_s`` (s), also planned ones with a ``depart_s`` whose vehicle is not
        heard of yet, placed standing at their origin (the start of their route, at the
        origin's offset) at their departure — also once that is past: a vehicle that has
        left is not heard of until its unit's first report has arrived (up to a report
        period plus the latency, more with lost reports), and planning it from the origin
        now would give every junction an arrival that much too late. It is planned as at
        most :data:`UNHEARD_DRIVE_S` on its way."""
        for rid, req in self._requests.items():
            pos = self._road_pos.get(rid)
            if req.state is RequestState.ACTIVE and pos is not None and req.position is not None:
                # The place's own time: a report that did not move the vehicle (an unconfirmed
                # off-route fix) leaves it where an older one put it, then.
                edge, offset, at_s = pos
                fused_sigma_m = self._gps.sigma_m(rid)
                accuracy = fused_sigma_m if fused_sigma_m is not None else req.position.accuracy_m
                yield Tracked(req, edge, offset, req.position.speed_mps, at_s, accuracy)
            elif (
                planned_at_s is not None
                and req.state is RequestState.PLANNED
                and req.spec.depart_s is not None
                and req.route
            ):
                origin = req.spec.origin
                offset = (
                    origin.offset_m
                    if isinstance(origin, EdgePlace) and origin.edge_id == req.route[0]
                    else 0.0
                )
                left_s = max(req.spec.depart_s, planned_at_s - UNHEARD_DRIVE_S)
                yield Tracked(req, req.route[0], offset, 0.0, left_s)

    # -- changes ----------------------------------------------------------------------------
    def submit(
        self, spec: PriorityRequestSpec, now_s: float, traffic: TrafficState | None = None
    ) -> PriorityRequest:
        """Receive a request and plan its route.

        Raises
        ------
        UnknownEdgeError, RouteError
            The route cannot be driven or planned; the request is kept as ``rejected`` with
            the reason, and the error is raised to the caller.
        """
        self._seq += 1
        rid = f"{spec.requester_id}#{self._seq}"
        req = PriorityRequest.new(rid, spec, now_s)
        self._requests[rid] = req
        try:
            route = self._plan(spec, traffic)
        except Exception as exc:  # a RouteError, or an UnknownEdgeError (a KeyError)
            self._requests[rid] = req.to_state(RequestState.REJECTED, now_s, str(exc))
            raise
        self._requests[rid] = req.planned(route.edges, self._signals_on(route.edges), now_s)
        return self._requests[rid]

    def cancel(self, request_id: str, now_s: float, reason: str = "cancelled") -> PriorityRequest:
        """Cancel a request (its holds end on the controller's next tick)."""
        req = self.request(request_id).to_state(RequestState.CANCELLED, now_s, reason)
        self._store(req)
        return req

    def renew(self, request_id: str, now_s: float) -> PriorityRequest:
        """Its owner renews it: it may live its ``max_duration_s`` again from now."""
        req = self.request(request_id).renewed(now_s)
        self._requests[request_id] = req
        return req

    def replace(self, request: PriorityRequest) -> None:
        """Store a changed record of a known request (e.g. new junction statuses)."""
        self.request(request.request_id)
        self._store(request)

    def observe(
        self,
        positions: Mapping[str, PositionUpdate],
        now_s: float,
        traffic: TrafficState | None = None,
    ) -> None:
        """Take in the feed: renew leases, re-plan strays, complete arrivals, expire the silent.

        An update that cannot be used (an edge not in the network, a lon/lat no lane is near,
        a time stamp in the future, no route from where it is) is set aside with its reason in
        :attr:`feed_errors`: it renews no lease, and the other requests are served as usual.
        """
        for rid, req in list(self._requests.items()):
            if req.state.is_final:
                continue
            update = positions.get(req.spec.requester_id)
            if update is None:
                if req.state is RequestState.ACTIVE and self._arrived(rid, req):
                    req = req.to_state(RequestState.COMPLETED, now_s, "vehicle reached its destination")
            elif req.position is None or update.time_s > req.position.time_s:
                try:
                    if update.time_s > now_s + FUTURE_TOLERANCE_S:
                        raise RouteError(
                            f"position update of {req.spec.requester_id!r} is stamped "
                            f"{update.time_s:.1f} s, after now ({now_s:.1f} s); check the sender's clock"
                        )
                    req = self._heard(req, update, now_s, traffic)
                    self.feed_errors.pop(rid, None)
                except ClearwayError as exc:
                    self.feed_errors[rid] = str(exc)
                    self.feed_error_kinds[rid] = type(exc).__name__
            self._store(req.expire_if_stale(now_s))
        if self.reroute is not None and traffic is not None:
            self._live = self._live or LiveTimes(self.graph)
            self._live.update(traffic)
            self._reroute(self.reroute, now_s, self._live)

    @property
    def reroutes(self) -> Mapping[str, int]:
        """Per request id, how many times its vehicle was given a faster route on its way."""
        return {rid: st.switches for rid, st in self._reroutes.items() if st.switches}

    @property
    def matching(self) -> frozenset[str]:
        """Requests whose vehicle's fixes are being map matched (they hold a matcher state);
        a request drops its state when it ends."""
        return self._gps.matching

    def signals_ahead(self, request_id: str) -> frozenset[str] | None:
        """Signals still ahead of the request's vehicle; ``None`` before it is heard of."""
        pos = self._road_pos.get(request_id)
        req = self._requests.get(request_id)
        if pos is None or req is None or pos[0] not in req.route:
            return None
        return frozenset(self._signals_on(req.route[req.route.index(pos[0]):]))

    # -- internals --------------------------------------------------------------------------
    def _reroute(self, policy: ReroutePolicy, now_s: float, live: LiveTimes) -> None:
        """Check the live requests that are due whether a clearly faster route has opened."""
        for rid, req in self._requests.items():
            pos, state = self._road_pos.get(rid), self._reroutes.get(rid, RerouteState())
            if req.state is not RequestState.ACTIVE or pos is None or not state.due(policy, now_s):
                continue
            decision = check_route(policy, state, self.graph, req.route, *pos[:2], now_s,
                                   live.run_s, live.queue_s)  # fmt: skip
            self._reroutes[rid] = decision.state
            if decision.route is not None:
                new = req.planned(edges := decision.route.edges, self._signals_on(edges), now_s)
                # The history says why, not only that a route was planned.
                self._requests[rid] = replace(
                    new, history=(*new.history[:-1], (now_s, new.state, decision.reason))
                )

    def _store(self, req: PriorityRequest) -> None:
        """Keep the request's new record; one that has ended (completed, cancelled, expired)
        lets go of its matcher state: it hears no more fixes."""
        self._requests[req.request_id] = req
        if req.state.is_final:
            self._gps.drop(req.request_id)

    @property
    def graph(self) -> RoutingGraph:
        if self._graph is None:
            self._graph = build_routing_graph(self.net, self.vclass)
        return self._graph

    def _place(self, place: EdgePlace | LonLat | XYPlace) -> tuple[str, float]:
        # An origin or destination is one point, not a trace: snapped to the nearest usable
        # lane (vehicle fixes go through the trace-aware matcher, GpsFixes).
        if isinstance(place, LonLat):
            edge, offset, _ = snap_lonlat(self.net, self.graph, place.lon, place.lat)
            return edge, offset
        if isinstance(place, XYPlace):
            edge, offset, _ = snap_to_edge(self.net, self.graph, place.x_m, place.y_m)
            return edge, offset
        return place.edge_id, place.offset_m

    def _plan(self, spec: PriorityRequestSpec, traffic: TrafficState | None) -> Route:
        if self.reroute is not None and self._live is not None:
            # The times the checks on the way use (runs; the corridor flushes the queues it
            # can): planned otherwise, the first check would often switch at once.
            times = self._live.run_s
        else:
            times = edge_times_s(self.graph, self.net, traffic) if traffic is not None else None
        if spec.route is not None:
            return route_of(self.graph, spec.route, edge_times_s=times)
        assert spec.destination is not None  # the spec's validator guarantees it
        if spec.origin is None:
            raise RouteError(
                f"request of {spec.requester_id!r} has no origin: give an origin or an explicit route"
            )
        o_edge, o_off = self._place(spec.origin)
        d_edge, d_off = self._place(spec.destination)
        dest_off = d_off if isinstance(spec.destination, LonLat) or d_off > 0 else None
        return fastest_route(
            self.graph, o_edge, d_edge, edge_times_s=times, origin_offset_m=o_off,
            destination_offset_m=dest_off,
        )

    def _signals_on(self, edges: tuple[str, ...]) -> tuple[str, ...]:
        junction_signal = self._junction_signal
        out: list[str] = []
        for e in edges[:-1]:
            sid = junction_signal.get(self.net.edge(e).to_junction)
            if sid is not None and sid not in out:
                out.append(sid)
        return tuple(out)

    def _heard(
        self, req: PriorityRequest, update: PositionUpdate, now_s: float, traffic: TrafficState | None
    ) -> PriorityRequest:
        if isinstance(update.place, LonLat | XYPlace):
            matched = self._gps.match(req, update, self._road_pos.get(req.request_id))
            if matched is None:
                return req.heard(update)
            edge, offset = matched
        else:
            edge, offset = update.place.edge_id, update.place.offset_m
        if edge.startswith(":"):
            self._check_plausible(req, edge, offset, update)
        req = req.heard(update)
        if edge.startswith(":"):
            # Inside a junction: past the stop line, so it counts as at the start of the next
            # edge of its route (the junction's green may now end: yellow and red clearance
            # protect a vehicle already inside).
            last = self._road_pos.get(req.request_id)
            junction = edge[1:].rsplit("_", 1)[0]
            if (
                last is not None
                and last[0] in req.route
                and self.net.edge(last[0]).to_junction == junction
            ):
                k = req.route.index(last[0])
                nxt = req.route[min(k + 1, len(req.route) - 1)]
                offset = 0.0 if nxt != last[0] else last[1]
                self._set_place(req, nxt, offset, update)
            return req
        if edge not in self.net.edges:
            raise RouteError(
                f"position update of {req.spec.requester_id!r} names edge {edge!r}, which is not "
                "in the network; send an edge id of this network or lon/lat"
            )
        self._check_plausible(req, edge, offset, update)
        route = Route(req.route, 0.0, 0.0, self._junctions(req.route))
        if replan_needed(route, edge):
            destination = req.route[-1]
            new = fastest_route(
                self.graph, edge, destination, edge_times_s=(
                    edge_times_s(self.graph, self.net, traffic) if traffic is not None else None
                ), origin_offset_m=min(offset, self.graph.length_m[self.graph.index[edge]]),
            )
            req = req.planned(new.edges, self._signals_on(new.edges), now_s)
        self._set_place(req, edge, offset, update)
        return req

    def _set_place(
        self, req: PriorityRequest, edge: str, offset_m: float, update: PositionUpdate
    ) -> None:
        """Where the vehicle is on its route as of ``update``: a GPS fix fused with the ones
        before it; a road place (an exact feed's) as given."""
        edge, offset_m = self._gps.fused(req, edge, offset_m, update)
        self._road_pos[req.request_id] = (edge, offset_m, update.time_s)

    def _check_plausible(
        self, req: PriorityRequest, edge: str, offset_m: float, update: PositionUpdate
    ) -> None:
        """Refuse a sample the vehicle could not have reached from its last accepted place (or
        from its origin at departure, before it is first heard of)."""
        last = self._road_pos.get(req.request_id)
        new_xy = place_xy(self.net, edge, offset_m)
        if last is not None:
            refs, last_t = [place_xy(self.net, last[0], last[1])], last[2]
        elif req.route and req.spec.depart_s is not None:
            # Not heard of yet: it leaves from somewhere on its first edge.
            first = self.net.edge(req.route[0])
            refs = [place_xy(self.net, first.id, 0.0), place_xy(self.net, first.id, first.length_m)]
            last_t = req.spec.depart_s
        else:
            refs, last_t = [None], None
        vmax = self._vmax
        if vmax is None:
            vmax = self._vmax = plausible_speed_mps(self.net)
        reasons = [
            implausible(ref, last_t, new_xy, update.time_s, update.speed_mps, vmax) for ref in refs
        ]
        reason = None if any(r is None for r in reasons) else reasons[0]
        if reason is not None:
            raise ImplausiblePositionError(
                f"position update of {req.spec.requester_id!r} at {update.time_s:.1f} s: {reason}"
            )

    def _junctions(self, edges: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.net.edge(e).to_junction for e in edges[:-1])

    def _arrived(self, rid: str, req: PriorityRequest) -> bool:
        """Gone from the feed after being seen on the last edge of its route."""
        pos = self._road_pos.get(rid)
        return pos is not None and bool(req.route) and pos[0] == req.route[-1]
