"""A one-trip GTFS feed with clearway's lines file on a grid's row 1 (edges A1B1, B1C1)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from clearway.control.priority.bus_board import LINES_FILE, BusLine, lines_to_json
from clearway.network.geo import xy_to_lonlat
from clearway.network.geometry import edge_point
from clearway.network.model import GeoReference, Network

#: Trip L.0 is scheduled at stop s0 (50 m on A1B1) at day+1000 s and s1 (150 m on B1C1) at
#: day+1100 s.
STOP_TIMES = (
    "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "L.0,00:16:40,00:16:40,s0,1\nL.0,00:18:20,00:18:20,s1,2\n"
)
#: A position of trip L.0's bus at stop s1.
POSITION = {
    "vehicle_id": "bus7",
    "trip_id": "L.0",
    "edge_id": "B1C1",
    "offset_m": 150.0,
    "speed_mps": 7.0,
}


def tiny_gtfs(folder: Path, net: Network, zone: str | None = "UTC") -> Path:
    """Write the feed into ``folder`` (``agency.txt`` in ``zone``; none for ``None``);
    returns it."""
    edges = ("A1B1", "B1C1")
    line = BusLine("L", edges, tuple(net.edge(e).length_m for e in edges),
                   {"s0": ("A1B1", 50.0), "s1": ("B1C1", 150.0)})  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    if zone is not None:
        (folder / "agency.txt").write_text(
            f"agency_id,agency_name,agency_url,agency_timezone\ncw,test,https://example.org,{zone}\n"
        )
    (folder / "trips.txt").write_text("route_id,service_id,trip_id\nL,all,L.0\n")
    (folder / "stop_times.txt").write_text(STOP_TIMES)
    (folder / LINES_FILE).write_text(lines_to_json({"L": line}))
    return folder


#: A projection putting the grid near Berlin (UTM zone 33): GTFS-realtime positions are WGS84.
GEO = GeoReference(
    "+proj=utm +zone=33 +ellps=WGS84 +datum=WGS84 +units=m +no_defs", -390000.0, -5810000.0
)


def with_geo(net: Network) -> Network:
    """``net`` geo-referenced with :data:`GEO`."""
    return dataclasses.replace(net, geo=GEO)


def lat_lon(net: Network, edge_id: str, offset_m: float, dx_m: float = 0.0, dy_m: float = 0.0):
    """WGS84 ``(lat, lon)`` of ``offset_m`` along ``edge_id`` (moved by ``dx_m``, ``dy_m``)."""
    x, y = edge_point(net, edge_id, offset_m)
    lon, lat = xy_to_lonlat(net.geo, x + dx_m, y + dy_m)
    return lat, lon


def add_vehicle_position(msg, vehicle_id: str, trip_id: str, lat: float, lon: float, utc_s: float,
                         bearing_deg: float | None = 90.0, speed_mps: float | None = 7.0):  # fmt: skip
    """Append a VehiclePosition entity to the GTFS-realtime ``msg``."""
    vp = msg.entity.add(id=f"e-{vehicle_id}-{len(msg.entity)}").vehicle
    vp.vehicle.id, vp.trip.trip_id, vp.timestamp = vehicle_id, trip_id, int(utc_s)
    vp.position.latitude, vp.position.longitude = lat, lon
    if bearing_deg is not None:
        vp.position.bearing = bearing_deg
    if speed_mps is not None:
        vp.position.speed = speed_mps
    return vp
