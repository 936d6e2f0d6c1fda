"""A one-trip GTFS feed with clearway's lines file on a grid's row 1 (edges A1B1, B1C1)."""

from __future__ import annotations

from pathlib import Path

from clearway.control.priority.bus_board import LINES_FILE, BusLine, lines_to_json
from clearway.network.model import Network

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


def tiny_gtfs(folder: Path, net: Network) -> Path:
    """Write the feed into ``folder``; returns it."""
    edges = ("A1B1", "B1C1")
    line = BusLine("L", edges, tuple(net.edge(e).length_m for e in edges),
                   {"s0": ("A1B1", 50.0), "s1": ("B1C1", 150.0)})  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trips.txt").write_text("route_id,service_id,trip_id\nL,all,L.0\n")
    (folder / "stop_times.txt").write_text(STOP_TIMES)
    (folder / LINES_FILE).write_text(lines_to_json({"L": line}))
    return folder
