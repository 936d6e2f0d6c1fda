"""Places as the API receives them — an edge id with an offset (the twin), or WGS84
coordinates (the field) — turned into the core's places, refused with the field's name when
the network cannot take them.

The request book snaps a request's coordinates to the nearest lane and the controller
map-matches a position's; what is checked here is what the caller can fix: a net without
geo-reference takes no coordinates at all, and a request's origin or destination must be
near a lane a priority vehicle may use.
"""

from __future__ import annotations

from clearway.control.priority.request import EdgePlace, LonLat
from clearway.errors import ClearwayError, RouteError, UnknownEdgeError
from clearway.network import Network
from clearway.network.graph import RoutingGraph
from clearway.network.snap import snap_lonlat
from clearway.service.schemas import LatLonIn

#: Farthest a request's origin or destination may be from a usable lane (m).
MAX_SNAP_M = 50.0


class NoGeoReferenceError(ClearwayError):
    """Coordinates sent for a network without geo-reference (answered 422)."""


class ClocklessError(ClearwayError):
    """A UTC time stamp sent to a twin running as fast as it can, whose traffic time has no
    UTC equivalent (answered 422)."""


def require_geo(net: Network, field: str) -> None:
    """Refuse coordinates in ``field`` if the net cannot convert them (:class:`NoGeoReferenceError`)."""
    if net.geo is None:
        raise NoGeoReferenceError(
            f"{field}: this network has no geo-reference (its <location projParameter> is "
            "'!', as in a netgenerate grid), so lat/lon cannot be placed on it; send an edge id "
            "(edge_id / origin_edge / destination_edge), or serve a net built from OSM or with "
            "netconvert --proj.utm"
        )


def road_edge(net: Network, edge_id: str, field: str) -> str:
    """``edge_id`` if the network has it, else :class:`UnknownEdgeError` naming ``field``."""
    if edge_id not in net.edges:
        roads = (e for e in net.edges if not e.startswith(":"))
        raise UnknownEdgeError(edge_id, roads, where=f"the network (field {field})")
    return edge_id


def request_place(
    net: Network,
    graph: RoutingGraph,
    field: str,
    edge_id: str | None,
    offset_m: float | None,
    coords: LatLonIn | None,
) -> EdgePlace | LonLat:
    """A request's origin or destination as the core takes it.

    Parameters
    ----------
    net, graph
        The network and the priority vehicles' routing graph (the lanes they may use).
    field
        ``origin`` or ``destination``: named in every error.
    edge_id, offset_m, coords
        The two forms the API accepts (exactly one of ``edge_id``, ``coords`` is given).

    Raises
    ------
    UnknownEdgeError
        ``{field}_edge`` is not in the network (404).
    NoGeoReferenceError
        Coordinates, and the net has no geo-reference (422).
    RouteError
        No usable lane within :data:`MAX_SNAP_M` of the coordinates (422, with the distance).
    """
    if coords is None:
        assert edge_id is not None  # the schema asks for exactly one form
        return EdgePlace(edge_id=road_edge(net, edge_id, f"{field}_edge"), offset_m=offset_m or 0.0)
    require_geo(net, field)
    try:
        snap_lonlat(net, graph, coords.lon, coords.lat, max_distance_m=MAX_SNAP_M)
    except RouteError as exc:
        raise RouteError(f"{field} (lat {coords.lat}, lon {coords.lon}): {exc}") from None
    return LonLat(lon=coords.lon, lat=coords.lat)
