"""A bus's schedule from GTFS static, and how late it runs.

GTFS ``trips.txt`` and ``stop_times.txt`` are parsed with the :mod:`csv` module (only the
columns clearway needs; a feed's other files and columns are ignored). Times are seconds after
the service day's start ("noon minus 12 h"; GTFS lets hours pass 24 for trips after midnight).

Lateness (s, positive = late) is measured the way a transit operator's AVL does it: against the
schedule interpolated by distance between the stop the bus last passed and the next one, so a
bus between stops is not called late just for being on its way. Pure functions.
"""

from __future__ import annotations

import bisect
import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from clearway.errors import ConfigError


class ScheduleError(ConfigError):
    """A GTFS file is missing, lacks a column, or holds a value clearway cannot read."""


@dataclass(frozen=True, slots=True)
class StopTime:
    """One scheduled call: stop id, its sequence on the trip, arrival and departure (s after
    the service day's start)."""

    stop_id: str
    stop_sequence: int
    arrival_s: float
    departure_s: float


@dataclass(frozen=True, slots=True)
class TripSchedule:
    """A trip's scheduled calls, in stop-sequence order."""

    trip_id: str
    route_id: str
    stops: tuple[StopTime, ...]

    def call(self, stop_sequence: int) -> StopTime:
        """The call with ``stop_sequence``.

        Raises
        ------
        ScheduleError
            If the trip has no such call.
        """
        for s in self.stops:
            if s.stop_sequence == stop_sequence:
                return s
        raise ScheduleError(
            f"trip {self.trip_id!r} has no stop_sequence {stop_sequence}; it has "
            f"{[s.stop_sequence for s in self.stops]}"
        )


def parse_gtfs_time(text: str) -> float:
    """``"HH:MM:SS"`` (hours may exceed 23) as seconds after the service day's start (s).

    Raises
    ------
    ScheduleError
        Unless it is three non-negative integer fields with minutes and seconds below 60.
    """
    parts = text.strip().split(":")
    try:
        h, m, s = (int(p) for p in parts)
    except ValueError:
        raise ScheduleError(
            f"GTFS time {text!r} is not HH:MM:SS (e.g. 07:05:30 or 25:10:00)"
        ) from None
    if h < 0 or not (0 <= m < 60 and 0 <= s < 60):
        raise ScheduleError(f"GTFS time {text!r} is out of range: minutes and seconds 0-59")
    return float(h * 3600 + m * 60 + s)


def _rows(text: str, name: str, needed: Sequence[str]) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in needed if c not in (reader.fieldnames or ())]
    if missing:
        raise ScheduleError(f"{name} lacks the column(s) {', '.join(missing)}; GTFS requires them")
    return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def parse_schedule(trips_txt: str, stop_times_txt: str) -> dict[str, TripSchedule]:
    """Trip schedules by trip id from the texts of ``trips.txt`` and ``stop_times.txt``.

    A call without arrival takes its departure and vice versa (GTFS allows untimed stops
    only between timed ones; clearway needs a time at every call it measures against).

    Raises
    ------
    ScheduleError
        A required column is missing, a time is malformed, a call names an unknown trip, or a
        call has neither arrival nor departure.
    """
    routes = {
        r["trip_id"]: r["route_id"] for r in _rows(trips_txt, "trips.txt", ("route_id", "trip_id"))
    }
    calls: dict[str, list[StopTime]] = {}
    needed = ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence")
    for row in _rows(stop_times_txt, "stop_times.txt", needed):
        trip = row["trip_id"]
        if trip not in routes:
            raise ScheduleError(
                f"stop_times.txt names trip {trip!r}, which trips.txt does not list"
            )
        arr, dep = (
            row["arrival_time"] or row["departure_time"],
            row["departure_time"] or row["arrival_time"],
        )
        if not arr:
            raise ScheduleError(
                f"trip {trip!r} stop {row['stop_id']!r} has no arrival or departure time; "
                "clearway needs a time at every call"
            )
        try:
            seq = int(row["stop_sequence"])
        except ValueError:
            raise ScheduleError(
                f"trip {trip!r}: stop_sequence {row['stop_sequence']!r} is not an integer"
            ) from None
        calls.setdefault(trip, []).append(
            StopTime(row["stop_id"], seq, parse_gtfs_time(arr), parse_gtfs_time(dep))
        )
    return {
        trip: TripSchedule(trip, routes[trip], tuple(sorted(stops, key=lambda s: s.stop_sequence)))
        for trip, stops in calls.items()
    }


def read_schedule(folder: str | Path) -> dict[str, TripSchedule]:
    """:func:`parse_schedule` on ``folder``'s ``trips.txt`` and ``stop_times.txt``.

    Raises
    ------
    ScheduleError
        A file is missing or unreadable, or as :func:`parse_schedule`.
    """
    base = Path(folder)
    try:
        return parse_schedule(
            (base / "trips.txt").read_text(encoding="utf-8"),
            (base / "stop_times.txt").read_text(encoding="utf-8"),
        )
    except OSError as exc:
        raise ScheduleError(
            f"cannot read the GTFS feed in {base}: {exc}; give a folder with trips.txt and stop_times.txt"
        ) from exc


def lateness_at_stop_s(
    trip: TripSchedule, stop_sequence: int, observed_s: float, *, departed: bool = False
) -> float:
    """How late the bus is at a call (s, positive = late): observed minus scheduled arrival
    (departure when ``departed``). Times in the service day's seconds."""
    call = trip.call(stop_sequence)
    return observed_s - (call.departure_s if departed else call.arrival_s)


def scheduled_at_s(
    trip: TripSchedule, stop_distances_m: Mapping[str, float], distance_m: float
) -> float:
    """When the schedule puts the bus ``distance_m`` along its route (s): the departure from
    the stop behind it, interpolated by distance to the arrival at the next one; before the
    first stop its departure, past the last its arrival.

    Parameters
    ----------
    stop_distances_m
        Distance along the route of each of the trip's stops (m), by stop id.
    distance_m
        Where the bus is along the route (m).

    Raises
    ------
    ScheduleError
        If a stop of the trip has no distance, or distances go backwards along the trip.
    """
    try:
        dist = [float(stop_distances_m[s.stop_id]) for s in trip.stops]
    except KeyError as exc:
        raise ScheduleError(
            f"trip {trip.trip_id!r}: stop {exc.args[0]!r} has no place on the route"
        ) from None
    if any(b < a for a, b in zip(dist, dist[1:], strict=False)):
        raise ScheduleError(f"trip {trip.trip_id!r}: its stops are not in order along the route")
    if not dist:
        raise ScheduleError(f"trip {trip.trip_id!r} has no stops")
    if distance_m <= dist[0]:
        return trip.stops[0].departure_s
    if distance_m >= dist[-1]:
        return trip.stops[-1].arrival_s
    k = bisect.bisect_right(dist, distance_m)  # stops[k-1] behind (or at), stops[k] ahead
    a, b = trip.stops[k - 1], trip.stops[k]
    span = dist[k] - dist[k - 1]
    frac = 0.0 if span <= 0 else (distance_m - dist[k - 1]) / span
    return a.departure_s + frac * (b.arrival_s - a.departure_s)


def lateness_s(
    trip: TripSchedule, stop_distances_m: Mapping[str, float], distance_m: float, now_s: float
) -> float:
    """How late the bus ``distance_m`` along its route is at ``now_s`` (s, positive = late)
    against :func:`scheduled_at_s`. ``now_s`` in the service day's seconds."""
    if not math.isfinite(now_s):
        raise ScheduleError(f"observation time must be finite, got {now_s!r}")
    return now_s - scheduled_at_s(trip, stop_distances_m, distance_m)
