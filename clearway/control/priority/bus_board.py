"""The buses clearway knows of: where each is on its line and how late it runs.

A transit operator reports its buses — positions on the network (edge and offset, from its AVL
or the twin), or delays from a GTFS-realtime feed (TripUpdates, VehiclePositions at a stop).
The board turns the latest report of each bus into a
:class:`~clearway.control.transit_control.BusApproach` for the transit-aware controller:
lateness from the trip's GTFS schedule interpolated by distance along its line
(:func:`~clearway.control.priority.gtfs.lateness_s`), unless the operator's own delay is
fresher. A bus not heard of for ``stale_s`` is forgotten (it gets no priority). Core: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from clearway.control.priority.gtfs import ScheduleError, ServiceDays, TripSchedule, scheduled_at_s
from clearway.control.transit_control import BusApproach

#: File beside a GTFS feed's own giving each line's path on the network (clearway's own).
LINES_FILE = "clearway_lines.json"
#: A bus report older than this is dropped (s).
STALE_S = 30.0
#: A bus slower than this within ``STOP_REACH_M`` of one of its stops is serving it (m/s, m).
DWELL_SPEED_MPS = 0.5
STOP_REACH_M = 20.0


@dataclass(frozen=True, slots=True)
class BusLine:
    """A bus line's path: its edges in order, their lengths (m), and where its stops are.

    Attributes
    ----------
    line_id
        GTFS ``route_id``.
    edges
        Edge ids it drives, in order.
    lengths_m
        Length of each of ``edges`` (m).
    stops
        Per GTFS ``stop_id``: the edge it is on and the stop's end along it (m).
    """

    line_id: str
    edges: tuple[str, ...]
    lengths_m: tuple[float, ...]
    stops: Mapping[str, tuple[str, float]]

    def distance_m(self, edge_id: str, offset_m: float) -> float | None:
        """How far along the line a place is (m); ``None`` if the line does not use the edge."""
        try:
            k = self.edges.index(edge_id)
        except ValueError:
            return None
        return sum(self.lengths_m[:k]) + offset_m

    def stop_distances_m(self) -> dict[str, float]:
        """Distance along the line of each stop (m)."""
        out = {}
        for sid, (edge, pos) in self.stops.items():
            d = self.distance_m(edge, pos)
            if d is None:
                raise ScheduleError(
                    f"line {self.line_id!r}: stop {sid!r} is on edge {edge!r}, which the line does not drive"
                )
            out[sid] = d
        return out


def lines_to_json(lines: Mapping[str, BusLine]) -> str:
    """``lines`` as the text of :data:`LINES_FILE`."""
    return json.dumps(
        {lid: {"edges": list(ln.edges), "lengths_m": list(ln.lengths_m),
               "stops": {s: [e, p] for s, (e, p) in ln.stops.items()}} for lid, ln in lines.items()},
        indent=1,
    )  # fmt: skip


def read_lines(folder: str | Path) -> dict[str, BusLine]:
    """The lines of :data:`LINES_FILE` in ``folder``: per GTFS ``route_id`` its edges, their
    lengths (m) and each stop's edge and end along it (m).

    Raises
    ------
    ScheduleError
        If the file is missing or malformed.
    """
    path = Path(folder) / LINES_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {
            lid: BusLine(lid, tuple(v["edges"]), tuple(float(x) for x in v["lengths_m"]),
                         {s: (str(e), float(p)) for s, (e, p) in v["stops"].items()})
            for lid, v in raw.items()
        }  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ScheduleError(
            f"cannot read the bus lines in {path}: {exc}; write it with "
            "{route_id: {edges, lengths_m, stops: {stop_id: [edge, end_m]}}}"
        ) from exc


@dataclass(frozen=True, slots=True)
class BusReport:
    """The latest report of one bus: its trip, place (m), speed (m/s), time (s)."""

    trip_id: str
    edge_id: str
    offset_m: float
    speed_mps: float
    time_s: float


class BusBoard:
    """The buses of one operator's feed, with their schedules.

    Parameters
    ----------
    schedule
        Trip schedules by GTFS ``trip_id``.
    lines
        Line geometry by GTFS ``route_id``.
    service_day_start_s
        Traffic time of the service day's start: GTFS times are counted from it (s).
    service_days
        Instead, where each service day starts (with the agency's time zone when the board's
        clock is UTC); overrides ``service_day_start_s``.
    stale_s
        Reports older than this are dropped (s).
    """

    def __init__(
        self,
        schedule: Mapping[str, TripSchedule],
        lines: Mapping[str, BusLine],
        *,
        service_day_start_s: float = 0.0,
        service_days: ServiceDays | None = None,
        stale_s: float = STALE_S,
    ) -> None:
        self.schedule = dict(schedule)
        self.lines = dict(lines)
        self.service_days = service_days or ServiceDays(start_s=service_day_start_s)
        self.stale_s = stale_s
        self._stops = {lid: line.stop_distances_m() for lid, line in self.lines.items()}
        self._reports: dict[str, BusReport] = {}
        #: Per trip: delay the operator reported (s) and when (traffic time, s).
        self._delays: dict[str, tuple[float, float]] = {}

    def trip(self, trip_id: str) -> TripSchedule:
        """The schedule of ``trip_id``.

        Raises
        ------
        ScheduleError
            If the GTFS feed has no such trip, or its line has no geometry here.
        """
        trip = self.schedule.get(trip_id)
        if trip is None:
            raise ScheduleError(
                f"trip {trip_id!r} is not in the GTFS schedule; send a trip_id from trips.txt"
            )
        if trip.route_id not in self.lines:
            raise ScheduleError(
                f"trip {trip_id!r} runs on line {trip.route_id!r}, which has no path on this network"
            )
        return trip

    def observe(self, vehicle_id: str, report: BusReport) -> None:
        """Take a bus's position (raises :class:`ScheduleError` for an unknown trip)."""
        self.trip(report.trip_id)
        self._reports[vehicle_id] = report

    def observe_delay(self, trip_id: str, delay_s: float, time_s: float) -> None:
        """Take the operator's own delay for a trip (GTFS-realtime; s, positive = late)."""
        self.trip(trip_id)
        self._delays[trip_id] = (delay_s, time_s)

    def forget(self, vehicle_id: str) -> None:
        """Drop a bus (it ended its trip); no error if unknown."""
        self._reports.pop(vehicle_id, None)

    def report(self, vehicle_id: str) -> BusReport | None:
        """The latest report of a bus, if any."""
        return self._reports.get(vehicle_id)

    def reset(self) -> None:
        """Forget every report and delay (the clock they were timed on started again)."""
        self._reports.clear()
        self._delays.clear()

    def lateness_s(self, report: BusReport) -> float | None:
        """How late the bus of ``report`` runs (s): the operator's delay if it is at least as
        fresh as the position, else from the schedule at its place; ``None`` off its line."""
        delay = self._delays.get(report.trip_id)
        if delay is not None and delay[1] >= report.time_s:
            return delay[0]
        trip = self.trip(report.trip_id)
        line = self.lines[trip.route_id]
        d = line.distance_m(report.edge_id, report.offset_m)
        if d is None:
            return delay[0] if delay is not None else None
        return self.service_days.lateness_s(
            report.time_s, scheduled_at_s(trip, self._stops[line.line_id], d)
        )

    def bus_approaches(self, now_s: float) -> Sequence[BusApproach]:
        """Every bus heard of within ``stale_s``, on its line, with its lateness."""
        out = []
        for vid, rep in list(self._reports.items()):
            if now_s - rep.time_s > self.stale_s:
                del self._reports[vid]
                continue
            line = self.lines[self.schedule[rep.trip_id].route_id]
            late = self.lateness_s(rep)
            if late is None or rep.edge_id not in line.edges:
                continue
            k = line.edges.index(rep.edge_id)
            nxt = line.edges[k + 1] if k + 1 < len(line.edges) else None
            dwelling = rep.speed_mps < DWELL_SPEED_MPS and any(
                edge == rep.edge_id and abs(pos - rep.offset_m) <= STOP_REACH_M
                for edge, pos in line.stops.values()
            )
            out.append(
                BusApproach(vid, rep.edge_id, rep.offset_m, rep.speed_mps, nxt, late, dwelling)
            )
        return out
