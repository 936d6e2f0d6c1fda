"""The live map dashboard: ``/`` serves its static page (no credential: it holds no data and
asks for a key), ``GET /network/geometry`` the map it draws (any role).

The page's assets are plain ES modules and CSS in :mod:`clearway.service.dashboard`, shipped
as package data: nothing is fetched from a CDN or tile server at run time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from clearway.errors import NetworkError
from clearway.network import Network
from clearway.service.auth import Permission, Principal, require
from clearway.service.context import ServiceContext, get_context

router = APIRouter(tags=["dashboard"])
_read = require(Permission.READ)

#: The dashboard's static files.
ASSETS = Path(__file__).resolve().parent.parent / "dashboard"
#: The page's own strict policy: scripts, styles and connections to this origin only.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: *; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/", include_in_schema=False)
def index() -> Response:
    """The dashboard page (it asks for an API key and uses the API like any client)."""
    return FileResponse(
        ASSETS / "index.html", media_type="text/html; charset=utf-8", headers=_HEADERS
    )


#: The page's modules and styles (a mount: one folder, no credential, nothing outside it).
router.mount("/dashboard", StaticFiles(directory=ASSETS, check_dir=False), name="dashboard")


@router.get("/network/geometry")
def network_geometry(
    _p: Principal = Depends(_read), ctx: ServiceContext = Depends(get_context)
) -> Response:
    """The network drawn: one polyline per road lane (network m, rounded to 0.1 m; lon/lat
    too when the net has a projection), junction outlines, signals (with the incoming lane of
    each index of their state string) and the bounds (m).

    Internal lanes (inside junctions), crossings and walking areas are left out.
    """
    net = ctx.require_network()
    cached = _CACHE.get(id(net))
    if cached is None or cached[0] is not net:
        body = json.dumps(_geometry(net), separators=(",", ":")).encode()
        cached = _CACHE[id(net)] = (net, body)
        while len(_CACHE) > 4:
            _CACHE.pop(next(iter(_CACHE)))
    return Response(cached[1], media_type="application/json")


#: Encoded geometry per network (by identity; a city's is a few MB and never changes).
_CACHE: dict[int, tuple[Network, bytes]] = {}


def _r(v: float) -> float:
    return round(v, 1)


def _geometry(net: Network) -> dict[str, Any]:
    to_lonlat = _lonlat_converter(net)
    lanes = []
    edges = []
    for edge in net.edges.values():
        if not edge.is_normal:
            continue
        edges.append(
            {
                "id": edge.id,
                "from": edge.from_junction,
                "to": edge.to_junction,
                "lanes": list(edge.lane_ids),
                "name": edge.name,
            }
        )
        for lane_id in edge.lane_ids:
            lane = net.lane(lane_id)
            entry: dict[str, Any] = {
                "id": lane.id,
                "edge_id": edge.id,
                "index": lane.index,
                "width_m": _r(lane.width_m),
                "shape": [[_r(x), _r(y)] for x, y in lane.shape],
            }
            if to_lonlat is not None:
                entry["lonlat"] = [to_lonlat(x, y) for x, y in lane.shape]
            lanes.append(entry)
    signal_of: dict[str, str] = {}
    for tl in net.traffic_lights.values():
        for jid in tl.junction_ids:
            signal_of.setdefault(jid, tl.id)
    junctions = [
        {
            "id": j.id,
            "type": j.type,
            "x_m": _r(j.x_m),
            "y_m": _r(j.y_m),
            "shape": [[_r(x), _r(y)] for x, y in j.shape],
            "signal_id": signal_of.get(j.id),
        }
        for j in net.junctions.values()
        if j.type != "internal"
    ]
    signals = []
    for tl in net.traffic_lights.values():
        first = net.junction(tl.junction_ids[0]) if tl.junction_ids else None
        incoming: list[str | None] = [None] * tl.link_count
        for link in net.signal_links(tl.id):
            if 0 <= link.signal_index < tl.link_count and not link.is_crossing:
                incoming[link.signal_index] = link.from_lane
        signals.append(
            {
                "id": tl.id,
                "junction_ids": list(tl.junction_ids),
                "x_m": _r(first.x_m) if first else 0.0,
                "y_m": _r(first.y_m) if first else 0.0,
                "link_count": tl.link_count,
                "links": incoming,
            }
        )
    xmin, ymin, xmax, ymax = net.bounds_m
    return {
        "bounds_m": [_r(xmin), _r(ymin), _r(xmax), _r(ymax)],
        "projected": to_lonlat is not None,
        "lanes": lanes,
        "edges": edges,
        "junctions": junctions,
        "signals": signals,
    }


def _lonlat_converter(net: Network):  # noqa: ANN202 - a small closure or None
    if net.geo is None:
        return None
    from clearway.network.geo import xy_to_lonlat

    try:
        xy_to_lonlat(net.geo, 0.0, 0.0)
    except NetworkError:
        return None

    def convert(x: float, y: float) -> list[float]:
        lon, lat = xy_to_lonlat(net.geo, x, y)
        return [round(lon, 7), round(lat, 7)]

    return convert
