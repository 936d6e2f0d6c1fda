"""A bus's schedule from GTFS static, and how late it runs.

GTFS ``trips.txt`` and ``stop_times.txt`` are parsed with the :mod:`csv` module (only the
columns clearway needs; a feed's other files and columns are ignored). Times are seconds after
the service day's start ("noon minus 12 h"; GTFS lets hours pass 24 for trips after midnight)
in the agency's local time: ``agency.txt``'s ``agency_timezone``
(:func:`read_agency_timezone`). :class:`ServiceDays` turns them into the board's clock: a
fixed start (the twin's simulated day), or in UTC the start of each local service day, which
moves with daylight saving time.

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
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


#: GTFS file naming the agency and its time zone.
AGENCY_FILE = "agency.txt"


def parse_agency_timezone(agency_txt: str) -> ZoneInfo:
    """The time zone of ``agency.txt``'s text (``agency_timezone``, an IANA name such as
    ``Europe/Berlin``).

    Raises
    ------
    ScheduleError
        The column is missing or empty, the zone is not an IANA zone, or the agencies name
        different zones (GTFS requires one zone for every agency of a feed).
    """
    rows = _rows(agency_txt, AGENCY_FILE, ("agency_timezone",))
    zones = sorted({r["agency_timezone"] for r in rows})
    if not zones or zones == [""]:
        raise ScheduleError(
            f"{AGENCY_FILE} gives no agency_timezone; GTFS requires one (e.g. Europe/Berlin)"
        )
    if len(zones) > 1:
        raise ScheduleError(
            f"{AGENCY_FILE} names several time zones {zones}; GTFS requires one for all agencies"
        )
    try:
        return ZoneInfo(zones[0])
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"{AGENCY_FILE}: agency_timezone {zones[0]!r} is not an IANA time zone "
            "(e.g. Europe/Berlin, America/New_York)"
        ) from None


def read_agency_timezone(folder: str | Path) -> ZoneInfo:
    """:func:`parse_agency_timezone` on ``folder``'s ``agency.txt``.

    Raises
    ------
    ScheduleError
        If the file is missing or unreadable (naming it), or as :func:`parse_agency_timezone`.
    """
    path = Path(folder) / AGENCY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScheduleError(
            f"cannot read {path}: {exc}; GTFS times are local to agency.txt's agency_timezone, "
            "so clearway needs it to place the schedule in UTC"
        ) from exc
    return parse_agency_timezone(text)


@dataclass(frozen=True, slots=True)
class ServiceDays:
    """Where service days start on the board's clock.

    Either a fixed ``start_s`` (the twin: its simulated day starts at traffic time 0), or,
    with ``zone``, the board's clock is UTC and each local service day starts at noon minus
    12 h local time (the GTFS definition: on a day daylight saving time begins or ends that
    is 23:00 or 01:00 local, so schedule times keep their distance from noon).
    """

    zone: ZoneInfo | None = None
    start_s: float = 0.0

    def starts_s(self, time_s: float) -> tuple[float, ...]:
        """The starts (s, board clock) of the service days a bus at ``time_s`` may be on:
        with a zone, the day before the local day (its trips run past 24:00), the local day,
        and the next (a bus early for a trip just after midnight)."""
        if self.zone is None:
            return (self.start_s,)
        day = datetime.fromtimestamp(time_s, self.zone).date()
        out = []
        for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
            noon = datetime.combine(d, time(12), tzinfo=self.zone)
            out.append(noon.timestamp() - 12 * 3600.0)
        return tuple(out)

    def lateness_s(self, time_s: float, scheduled_s: float) -> float:
        """How late (s) an event at ``time_s`` (board clock) is against ``scheduled_s`` (s
        after a service day's start): against the service day that puts it nearest its
        schedule (a bus after midnight on a 24:20:00 trip is on yesterday's)."""
        return min((time_s - start - scheduled_s for start in self.starts_s(time_s)), key=abs)


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
