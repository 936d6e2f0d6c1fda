"""Where a priority vehicle's GPS fixes put it on its route, per request.

A fix is map matched (:func:`~clearway.network.matching.match_step`, the planned route as
prior), kept on the route while it is within :data:`~clearway.control.priority.route_fit.
ROUTE_KEEP_SIGMAS` of its accuracy of it (a farther one counts only when the next fix is off
the route too), and fused along the route with the fixes before it
(:func:`~clearway.control.priority.along_track.fuse`). The state kept per request (the
matcher's candidates, the off-route flag, the track) is memory only and dropped when the
request ends (PRIVACY.md).
"""

from __future__ import annotations

from collections.abc import Callable

from clearway.control.priority.along_track import (
    TrackEstimate,
    edge_starts_m,
    fuse,
    route_distance_m,
    route_place,
)
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import LonLat, PositionUpdate, XYPlace
from clearway.control.priority.route_fit import ROUTE_KEEP_SIGMAS, nearest_on_route
from clearway.network.geo import lonlat_to_xy
from clearway.network.graph import RoutingGraph
from clearway.network.matching import MatchState, match_step
from clearway.network.model import Network

#: Accuracy assumed for a GPS fix that gives none (m, 1 sigma).
DEFAULT_ACCURACY_M = 10.0


def fix_sigma_m(update: PositionUpdate) -> float:
    """The fix's accuracy (m, 1 sigma), or :data:`DEFAULT_ACCURACY_M` if it gives none."""
    return update.accuracy_m if update.accuracy_m is not None else DEFAULT_ACCURACY_M


class GpsFixes:
    """The per-request state of placing GPS fixes on routes (see the module docstring).

    Parameters
    ----------
    net
        The network.
    graph
        Returns the routing graph of the priority vehicles' class (built on first use).
    """

    def __init__(self, net: Network, graph: Callable[[], RoutingGraph]) -> None:
        self.net = net
        self._graph = graph
        self._match: dict[str, MatchState] = {}
        #: Requests whose last fix was matched off the route too far to be the route.
        self._off_route: set[str] = set()
        self._track: dict[str, TrackEstimate] = {}
        #: ... and where the edges of the route a track is fused on start (m driven).
        self._starts: dict[str, tuple[tuple[str, ...], list[float]]] = {}

    @property
    def matching(self) -> frozenset[str]:
        """Requests that hold a matcher state."""
        return frozenset(self._match)

    def sigma_m(self, request_id: str) -> float | None:
        """The fused place's accuracy (m, 1 sigma), ``None`` without a track."""
        track = self._track.get(request_id)
        return None if track is None else track.sigma_m

    def drop(self, request_id: str) -> None:
        """Forget everything kept for the request (it has ended)."""
        self._match.pop(request_id, None)
        self._off_route.discard(request_id)
        self._track.pop(request_id, None)
        self._starts.pop(request_id, None)

    def match(
        self, req: PriorityRequest, update: PositionUpdate, last: tuple[str, float, float] | None
    ) -> tuple[str, float] | None:
        """The (edge, offset m) the fix puts the vehicle at; ``None`` to leave it at its last
        place (``last``: edge, offset m, time s) while an off-route fix is unconfirmed."""
        place = update.place
        if isinstance(place, LonLat):
            x_m, y_m = lonlat_to_xy(self.net.geo, place.lon, place.lat)
        else:
            assert isinstance(place, XYPlace)
            x_m, y_m = place.x_m, place.y_m
        sigma_m = fix_sigma_m(update)
        rid = req.request_id
        state, m = match_step(
            self.net, self._graph(), self._match.get(rid, MatchState()), x_m, y_m,
            update.time_s, update.heading_deg, update.speed_mps, sigma_m,
            route_edges=frozenset(req.route),
        )  # fmt: skip
        self._match[rid] = state
        if m.edge_id.startswith(":") or m.edge_id in req.route:
            self._off_route.discard(rid)
            return m.edge_id, m.offset_m
        # Matched off the route: it is the route with GPS error while the fix is near enough
        # to it for its accuracy (one side street taken for it would re-plan the corridor).
        start = req.route.index(last[0]) if last is not None and last[0] in req.route else 0
        on_route = nearest_on_route(self.net, req.route, x_m, y_m, start=start)
        if on_route is not None and on_route.distance_m <= ROUTE_KEEP_SIGMAS * sigma_m:
            self._off_route.discard(rid)
            return on_route.edge_id, on_route.offset_m
        # Farther off: a turn off the route shows in the next fix too, a stray fix does not.
        # Until then the vehicle is not moved (it is projected on from its last place).
        if last is not None and rid not in self._off_route:
            self._off_route.add(rid)
            return None
        self._off_route.discard(rid)
        return m.edge_id, m.offset_m

    def fused(
        self, req: PriorityRequest, edge: str, offset_m: float, update: PositionUpdate
    ) -> tuple[str, float]:
        """The place (edge, offset m) on the route of a fix at ``edge``/``offset_m`` fused
        with the fixes before it; a road place (an exact feed's) or one off the route as
        given (and the track restarts)."""
        rid = req.request_id
        if not isinstance(update.place, LonLat | XYPlace) or edge not in req.route:
            self._track.pop(rid, None)
            return edge, offset_m
        known = self._starts.get(rid)
        if known is None or known[0] != req.route:
            known = self._starts[rid] = (req.route, edge_starts_m(self.net, req.route))
        starts = known[1]
        k = req.route.index(edge)
        track = fuse(
            self._track.get(rid), req.route,
            route_distance_m(self.net, req.route, k, offset_m, starts), fix_sigma_m(update),
            update.time_s, update.speed_mps,
        )  # fmt: skip
        self._track[rid] = track
        i, offset = route_place(self.net, req.route, track.distance_m, starts)
        return req.route[i], offset


__all__ = ["DEFAULT_ACCURACY_M", "GpsFixes", "fix_sigma_m"]
