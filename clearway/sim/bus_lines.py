"""Bus lines on a grid scenario: SUMO buses on fixed lines with stops, and their GTFS feed.

Two lines cross a generated grid (:func:`grid_bus_lines`): ``EW`` along the middle row, west
to east, and ``NS`` up the middle column, with a stop in the middle of every block. Buses leave
every ``headway_s``; each leaves its terminal late by a seeded random amount (its previous trip
ran late), so some buses are late and some on time. Their schedule (the GTFS written by
:func:`write_gtfs`) allows free-flow running, the dwell, and a fixed allowance per stop and per
signal — what a transit planner would publish. The vehicle type draws no random numbers.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from clearway.control.priority.bus_board import LINES_FILE, BusLine, lines_to_json
from clearway.errors import ConfigError
from clearway.network.model import Network
from clearway.sim.files import ensure_dir
from clearway.sim.scenario import Scenario

BUS_VTYPE_ID = "cw_bus"
#: Length of the stop area (m).
STOP_LENGTH_M = 20.0


@dataclass(frozen=True, slots=True)
class BusService:
    """How the lines are run.

    Attributes
    ----------
    headway_s
        Time between two buses of a line (s).
    first_s, last_s
        Scheduled departures of each line's first and last bus (s, traffic time).
    dwell_s
        Time a bus stands at each stop (s).
    stop_allowance_s, signal_allowance_s
        Schedule time allowed per stop (braking, pulling out) and per signal passed (s).
    max_late_start_s
        A bus leaves its terminal late by a uniform draw in [0, this] (s).
    """

    headway_s: float = 180.0
    first_s: float = 60.0
    last_s: float = 1500.0
    dwell_s: float = 15.0
    stop_allowance_s: float = 8.0
    signal_allowance_s: float = 8.0
    max_late_start_s: float = 150.0


def grid_bus_lines(net: Network, nx: int, ny: int) -> dict[str, BusLine]:
    """The two lines of an ``nx`` x ``ny`` grid built by :func:`clearway.sim.scenario.build_grid`.

    Raises
    ------
    ConfigError
        If the network is not such a grid (an edge the lines need is missing).
    """
    r, c = ny // 2, chr(ord("A") + nx // 2)
    cols = [chr(ord("A") + i) for i in range(nx)]
    ew = [f"left{r}A{r}"] + [f"{a}{r}{b}{r}" for a, b in zip(cols, cols[1:], strict=False)]
    ew.append(f"{cols[-1]}{r}right{r}")
    ns = [f"bottom{nx // 2}{c}0"] + [f"{c}{k}{c}{k + 1}" for k in range(ny - 1)]
    ns.append(f"{c}{ny - 1}top{nx // 2}")
    out = {}
    for line_id, edges in (("EW", ew), ("NS", ns)):
        missing = [e for e in edges if e not in net.edges]
        if missing:
            raise ConfigError(
                f"bus line {line_id}: edges {missing} are not in the network; use a generated grid"
            )
        lengths = tuple(net.edge(e).length_m for e in edges)
        stops = {
            f"{line_id}_s{k}": (e, 0.5 * (length + STOP_LENGTH_M))
            for k, (e, length) in enumerate(zip(edges, lengths, strict=True))
        }
        out[line_id] = BusLine(line_id, tuple(edges), lengths, stops)
    return out


@dataclass(frozen=True, slots=True)
class BusTrip:
    """One bus run: GTFS trip id (also its SUMO vehicle id), line, scheduled and actual
    departure from the terminal (s), and its scheduled call times (s) per stop id."""

    trip_id: str
    line_id: str
    scheduled_s: float
    depart_s: float
    calls: tuple[tuple[str, float, float], ...]


def bus_trips(
    net: Network, lines: dict[str, BusLine], service: BusService, seed: int
) -> list[BusTrip]:
    """Every bus of the service, with its schedule and its seeded late start."""
    rng = random.Random(f"buses-{seed}")
    out = []
    for line in lines.values():
        speed = [net.edge(e).speed_mps for e in line.edges]
        k, t = 0, service.first_s
        while t <= service.last_s:
            calls, clock, prev_m = [], t, 0.0
            for idx, (sid, (edge, pos)) in enumerate(line.stops.items()):
                e = line.edges.index(edge)
                d = line.distance_m(edge, pos) or 0.0
                signals = 1 if idx > 0 else 0  # one signal at the end of every block
                clock += (
                    (d - prev_m) / speed[e]
                    + service.stop_allowance_s
                    + signals * service.signal_allowance_s
                )
                calls.append((sid, clock, clock + service.dwell_s))
                clock += service.dwell_s
                prev_m = d
            late = rng.uniform(0.0, service.max_late_start_s)
            out.append(BusTrip(f"{line.line_id}.{k}", line.line_id, t, t + late, tuple(calls)))
            k += 1
            t += service.headway_s
    return sorted(out, key=lambda b: b.depart_s)


def _hms(t_s: float) -> str:
    s = round(t_s)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def write_gtfs(
    folder: str | os.PathLike[str], lines: dict[str, BusLine], trips: Sequence[BusTrip]
) -> Path:
    """A GTFS static feed of ``trips`` in ``folder`` (service day starting at traffic time 0),
    and the lines' paths on the network (:data:`~clearway.control.priority.bus_board.LINES_FILE`);
    stop ids are the SUMO bus stop ids. Returns the folder."""
    out = ensure_dir(folder)

    def write(name: str, header: list[str], rows: list[list[object]]) -> None:
        with open(out / name, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)

    write("agency.txt", ["agency_id", "agency_name", "agency_url", "agency_timezone"],
          [["cw", "clearway twin", "https://example.org", "UTC"]])  # fmt: skip
    write("routes.txt", ["route_id", "agency_id", "route_short_name", "route_type"],
          [[lid, "cw", lid, 3] for lid in lines])  # fmt: skip
    write("calendar.txt", ["service_id", "monday", "tuesday", "wednesday", "thursday", "friday",
                           "saturday", "sunday", "start_date", "end_date"],
          [["all", 1, 1, 1, 1, 1, 1, 1, "20260101", "20271231"]])  # fmt: skip
    write("stops.txt", ["stop_id", "stop_name", "stop_lat", "stop_lon", "stop_desc"],
          [[sid, sid, 0.0, 0.0, f"{edge}_0@{pos:.1f}"] for line in lines.values()
           for sid, (edge, pos) in line.stops.items()])  # fmt: skip
    write(
        "trips.txt",
        ["route_id", "service_id", "trip_id"],
        [[b.line_id, "all", b.trip_id] for b in trips],
    )
    write("stop_times.txt", ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"],
          [[b.trip_id, _hms(a), _hms(d), sid, k + 1] for b in trips for k, (sid, a, d) in enumerate(b.calls)])  # fmt: skip
    (out / LINES_FILE).write_text(lines_to_json(lines), encoding="utf-8")
    return out


def with_buses(
    scenario: Scenario,
    lines: dict[str, BusLine],
    trips: Sequence[BusTrip],
    service: BusService,
    out_dir: str | os.PathLike[str],
) -> Scenario:
    """``scenario`` plus the bus stops (additional file) and the buses (route file)."""
    out = ensure_dir(out_dir)
    stops = out / f"bus_stops_{scenario.name}.add.xml"
    with open(stops, "w", encoding="utf-8") as f:
        f.write("<additional>\n")
        for line in lines.values():
            for sid, (edge, pos) in line.stops.items():
                f.write(
                    f'  <busStop id="{sid}" lane="{edge}_0" startPos="{pos - STOP_LENGTH_M:.2f}" endPos="{pos:.2f}"/>\n'
                )
        f.write("</additional>\n")
    routes = out / f"buses_{scenario.name}.rou.xml"
    with open(routes, "w", encoding="utf-8") as f:
        f.write("<routes>\n")
        f.write(
            f'  <vType id="{BUS_VTYPE_ID}" vClass="bus" length="12" accel="1.2" decel="4" sigma="0" speedFactor="1" speedDev="0"/>\n'
        )
        for line in lines.values():
            f.write(f'  <route id="line_{line.line_id}" edges="{" ".join(line.edges)}">\n')
            for sid in line.stops:
                f.write(f'    <stop busStop="{sid}" duration="{service.dwell_s:g}"/>\n')
            f.write("  </route>\n")
        for b in trips:
            f.write(
                f'  <vehicle id="{b.trip_id}" type="{BUS_VTYPE_ID}" route="line_{b.line_id}" depart="{b.depart_s:.2f}" departLane="0"/>\n'
            )
        f.write("</routes>\n")
    return replace(
        scenario,
        name=f"{scenario.name}-buses",
        route_files=(*scenario.route_files, routes),
        additional_files=(*scenario.additional_files, stops),
    )
