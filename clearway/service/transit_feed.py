"""A transit operator's feed into the service: GTFS-realtime and bus positions, to lateness.

The service loads a GTFS static feed from ``CLEARWAY_GTFS_DIR`` (``trips.txt``,
``stop_times.txt``, and :data:`~clearway.control.priority.bus_board.LINES_FILE` with each
line's path on the network) into a :class:`~clearway.control.priority.bus_board.BusBoard`.
The operator then sends either

* a GTFS-realtime ``FeedMessage`` (protobuf, decoded with ``gtfs-realtime-bindings``):
  a TripUpdate's delay (the trip's, else its first stop-time update's arrival or departure
  delay) is taken as the trip's lateness; a VehiclePosition that is ``STOPPED_AT`` a stop
  with a timestamp is measured against the static schedule at that stop; a VehiclePosition
  with a position (lat, lon, bearing, speed) is map matched onto its trip's line
  (:class:`~clearway.control.priority.bus_fixes.BusFixes`, the matcher of priority vehicles'
  GPS fixes) and taken as a bus position like those below. A fix that is too old, from the
  future, or cannot be placed on the line is refused for that bus, with a reason;
* or bus positions on the network (edge, offset, speed) with their trip ids, measured against
  the schedule by distance along the line.

The board counts in *traffic time* (:mod:`clearway.service.clock`), the control loop's own
clock; feeds carry UTC, and every time in them is turned into traffic time with the
service's :class:`~clearway.service.clock.TrafficClock` before the board sees it. GTFS times
count from the start of a service day (:class:`~clearway.control.priority.gtfs.ServiceDays`):
on field equipment and without a runtime (traffic time = UTC) the local service days of
``agency.txt``'s ``agency_timezone`` (required: a feed without it is refused, naming the file
or the zone); on the twin traffic time 0, the simulated day's start (no zone applies). What
the board holds only ever leads to a green extension or an early green
(:mod:`clearway.control.priority.transit`), never to preemption.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2

from clearway.control.priority.bus_board import STALE_S, BusBoard, BusReport, read_lines
from clearway.control.priority.bus_fixes import BusFixError, BusFixes
from clearway.control.priority.gtfs import (
    ScheduleError,
    ServiceDays,
    read_agency_timezone,
    read_schedule,
)
from clearway.control.priority.transit import TransitSettings
from clearway.control.transit_control import BusApproach, TransitAction
from clearway.errors import ClearwayError, ServiceUnavailableError
from clearway.network.model import Network
from clearway.service.clock import FIELD_CLOCK, SampleTimeError, TrafficClock, check_sample_time

_STOPPED_AT = gtfs_realtime_pb2.VehiclePosition.VehicleStopStatus.Value("STOPPED_AT")


class FeedDecodeError(ClearwayError):
    """The body is not a GTFS-realtime FeedMessage clearway can read."""


@dataclass(frozen=True, slots=True)
class TripDelay:
    """A trip's lateness from the feed: trip id, delay (s, positive = late), when (s, traffic
    time)."""

    trip_id: str
    delay_s: float
    time_s: float


@dataclass(frozen=True, slots=True)
class VehicleFix:
    """A VehiclePosition's position: the bus (``vehicle.id``, else its label, else the
    entity id), its trip, WGS84 degrees, bearing (deg) and speed (m/s) if given, and its
    time (UTC, unix s: its timestamp, else the header's, else now)."""

    vehicle_id: str
    trip_id: str
    lat: float
    lon: float
    bearing_deg: float | None
    speed_mps: float | None
    utc_s: float


@dataclass(frozen=True, slots=True)
class RefusedFix:
    """A bus position not taken: the bus, its trip, why (``stale``, ``future``,
    ``no_line``, ``no_network``, ``bad_id``, or a :class:`~clearway.control.priority.
    bus_fixes.BusFixError` reason) and a message (no coordinates)."""

    vehicle_id: str
    trip_id: str
    reason: str
    detail: str


@dataclass
class FeedOutcome:
    """What a GTFS-realtime feed gave: trip delays, trip ids not in the schedule, buses
    placed on their lines with their lateness (s; ``None`` off the schedule's reach), fixes
    refused, and fixes not newer than the bus's last (a feed polled again; ignored)."""

    delays: list[TripDelay] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    placed: list[tuple[str, float | None]] = field(default_factory=list)
    refused: list[RefusedFix] = field(default_factory=list)
    repeated: int = 0


def decode_feed(
    body: bytes,
    board: BusBoard,
    now_s: float,
    to_traffic_s: Callable[[float], float] = float,
) -> tuple[list[TripDelay], list[str], list[VehicleFix]]:
    """The delays a GTFS-realtime ``body`` gives for trips of ``board``'s schedule, the
    trip ids it names that the schedule does not hold (ignored), and the positions of
    vehicles on trips of the schedule (to be matched onto their lines).

    ``now_s`` (UTC, unix s) stands for a missing header timestamp; ``to_traffic_s`` turns
    the feed's UTC times into the board's traffic time (the identity on field equipment).

    Raises
    ------
    FeedDecodeError
        If ``body`` is not a serialized FeedMessage.
    """
    msg = gtfs_realtime_pb2.FeedMessage()
    try:
        msg.ParseFromString(body)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise FeedDecodeError(
            f"the body is not a GTFS-realtime FeedMessage ({exc}); send the protobuf bytes "
            "with Content-Type application/x-protobuf"
        ) from None
    header_s = float(msg.header.timestamp) if msg.header.HasField("timestamp") else now_s
    delays: list[TripDelay] = []
    unknown: list[str] = []
    fixes: list[VehicleFix] = []
    for entity in msg.entity:
        if entity.HasField("trip_update"):
            tu = entity.trip_update
            trip_id = tu.trip.trip_id
            at = to_traffic_s(float(tu.timestamp) if tu.HasField("timestamp") else header_s)
            delay = _trip_update_delay(tu)
        elif entity.HasField("vehicle"):
            vp = entity.vehicle
            trip_id = vp.trip.trip_id
            if not trip_id:
                continue  # a vehicle on no trip (out of service, deadheading): nothing to serve
            utc_s = float(vp.timestamp) if vp.HasField("timestamp") else header_s
            at = to_traffic_s(utc_s)
            delay = None
            trip = board.schedule.get(trip_id)
            if trip is None:
                unknown.append(trip_id)
                continue
            if vp.current_status == _STOPPED_AT and vp.HasField("current_stop_sequence"):
                try:
                    scheduled = trip.call(vp.current_stop_sequence).arrival_s
                    delay = board.service_days.lateness_s(at, scheduled)
                except ScheduleError:
                    delay = None
            if vp.HasField("position"):
                fixes.append(_fix(entity, vp, utc_s))
        else:
            continue
        if trip_id not in board.schedule:
            unknown.append(trip_id)
        elif delay is not None:
            delays.append(TripDelay(trip_id, delay, at))
    return delays, unknown, fixes


def _fix(entity, vp, utc_s: float) -> VehicleFix:
    pos = vp.position
    vehicle_id = vp.vehicle.id or vp.vehicle.label or entity.id
    return VehicleFix(
        vehicle_id, vp.trip.trip_id, float(pos.latitude), float(pos.longitude),
        float(pos.bearing) if pos.HasField("bearing") else None,
        float(pos.speed) if pos.HasField("speed") else None, utc_s,
    )  # fmt: skip


class _Refused(ClearwayError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_REPEATED = object()
#: A fix this far (s) from now is refused before its time is even formatted.
_FAR_S = 1e7
_ID = re.compile(r"^[A-Za-z0-9_.:#\-]{1,64}$")
_ID_OK = lambda text: bool(_ID.match(text))  # noqa: E731  (the positions route's id rule)


def _finite(x: float | None, lo: float, hi: float) -> bool:
    return x is not None and lo <= x <= hi


def _speed_between(line, last: BusReport | None, trip_id, edge, offset_m, time_s) -> float:
    """Speed (m/s) from the bus's last place on the same trip, for a fix that gives none;
    0 without one (the controller floors it at half the speed limit)."""
    if last is None or last.trip_id != trip_id or time_s <= last.time_s:
        return 0.0
    a, b = line.distance_m(last.edge_id, last.offset_m), line.distance_m(edge, offset_m)
    if a is None or b is None:
        return 0.0
    return min(max((b - a) / (time_s - last.time_s), 0.0), 40.0)


def _trip_update_delay(tu: gtfs_realtime_pb2.TripUpdate) -> float | None:
    if tu.HasField("delay"):
        return float(tu.delay)
    for stu in tu.stop_time_update:
        for event in (stu.arrival, stu.departure):
            if event.HasField("delay"):
                return float(event.delay)
    return None


class TransitDesk:
    """The service's bus board, behind a lock (routes run in a thread pool).

    Parameters
    ----------
    gtfs_dir
        The GTFS static feed with clearway's lines file.
    service_day_start_s
        Traffic time of the service day's start (s): 0 on the twin. ``None``: traffic time is
        UTC (field equipment, no runtime), and service days are the local days of
        ``agency.txt``'s ``agency_timezone``.
    settings
        The threshold a bus must be late by to be served (reported per bus).
    net
        The network GTFS-realtime positions are matched onto (see :meth:`attach_network`).
    max_fix_age_s, fix_tolerance_s
        A VehiclePosition older than this (real s), or further ahead of now, is refused.

    Every method taking a feed's time takes the service's ``clock`` (UTC to traffic time;
    :data:`~clearway.service.clock.FIELD_CLOCK`, the identity, by default). The desk is also
    the live control loop's :class:`~clearway.control.transit_control.BusSource`.

    Raises
    ------
    ScheduleError
        A GTFS file is missing or malformed; with ``service_day_start_s=None`` also a missing
        ``agency.txt`` or an unknown ``agency_timezone``.
    """

    def __init__(
        self,
        gtfs_dir: str | Path,
        service_day_start_s: float | None,
        settings: TransitSettings | None = None,
        *,
        net: Network | None = None,
        max_fix_age_s: float = STALE_S,
        fix_tolerance_s: float = 2.0,
    ) -> None:
        days = (
            ServiceDays(zone=read_agency_timezone(gtfs_dir))
            if service_day_start_s is None
            else ServiceDays(start_s=service_day_start_s)
        )
        self.board = BusBoard(read_schedule(gtfs_dir), read_lines(gtfs_dir), service_days=days)
        self.settings = settings or TransitSettings()
        self.lock = threading.Lock()
        self.max_fix_age_s = max_fix_age_s
        self.fix_tolerance_s = fix_tolerance_s
        self.fixes: BusFixes | None = None
        if net is not None:
            self.attach_network(net)
        #: Per bus: the last green moved for it (junction, action, moved_s, time_s UTC).
        self._last: dict[str, dict] = {}

    def attach_network(self, net: Network) -> None:
        """Match GTFS-realtime positions onto ``net`` (once; later calls change nothing)."""
        with self.lock:
            if self.fixes is None:
                self.fixes = BusFixes(net)

    def feed(self, body: bytes, now_s: float, clock: TrafficClock = FIELD_CLOCK) -> FeedOutcome:
        """Take a GTFS-realtime body (``now_s``: UTC): the delays taken, the unknown trip
        ids, the buses placed from their VehiclePositions and the positions refused."""
        with self.lock:
            delays, unknown, fixes = decode_feed(body, self.board, now_s, clock.to_traffic_s)
            out = FeedOutcome(delays=delays, unknown=unknown)
            for d in delays:
                self.board.observe_delay(d.trip_id, d.delay_s, d.time_s)
            if self.fixes is not None:
                self.fixes.prune(clock.to_traffic_s(now_s), self.board.stale_s)
            for fix in fixes:
                try:
                    late = self._take_fix(fix, now_s, clock)
                except _Refused as r:
                    out.refused.append(
                        RefusedFix(fix.vehicle_id[:64], fix.trip_id, r.reason, str(r))
                    )
                    continue
                except ClearwayError as exc:  # one bad fix never fails the others
                    out.refused.append(
                        RefusedFix(fix.vehicle_id[:64], fix.trip_id, "unusable", str(exc)[:200])
                    )
                    continue
                if late is _REPEATED:
                    out.repeated += 1
                else:
                    out.placed.append((fix.vehicle_id, late))
        return out

    def _take_fix(self, fix: VehicleFix, now_s: float, clock: TrafficClock):
        """Place one VehiclePosition on the board: the bus's lateness (s, ``None`` beyond
        the schedule's reach), or ``_REPEATED``; :class:`_Refused` with the reason."""
        if not _ID_OK(fix.vehicle_id):
            raise _Refused("bad_id", "the vehicle id must be 1-64 characters A-Z a-z 0-9 _ . : # -")
        trip = self.board.schedule[fix.trip_id]
        line = self.board.lines.get(trip.route_id)
        if line is None:
            raise _Refused("no_line", f"trip {fix.trip_id!r} runs on line {trip.route_id!r}, "
                           "which has no path on this network (clearway_lines.json)")  # fmt: skip
        age_s = now_s - fix.utc_s
        if abs(age_s) > _FAR_S:  # a timestamp no clock could mean (and no date can print)
            reason = "stale" if age_s > 0 else "future"
            raise _Refused(reason, f"timestamp {fix.utc_s:.0f} is {abs(age_s):.0f} s from now")
        # The board forgets a bus after stale_s of *traffic* time: on a twin faster than real
        # time that is fewer real seconds.
        max_age_s = min(self.max_fix_age_s, self.board.stale_s / clock.speed)
        try:
            traffic_s = check_sample_time(
                fix.utc_s, now_s, max_age_s=max_age_s,
                tolerance_s=self.fix_tolerance_s, clock=clock,
            )  # fmt: skip
        except SampleTimeError as exc:
            reason = "stale" if age_s > max_age_s else "future" if age_s < 0 else "early"
            raise _Refused(reason, str(exc)) from None
        last = self.board.report(fix.vehicle_id)
        if last is not None and last.trip_id == fix.trip_id and traffic_s <= last.time_s:
            return _REPEATED
        if self.fixes is None:
            raise _Refused("no_network", "the service has no network to match positions on; "
                           "set CLEARWAY_NET_FILE")  # fmt: skip
        if not (abs(fix.lat) <= 90.0 and abs(fix.lon) <= 180.0):
            raise _Refused("bad_position", "latitude or longitude out of range (WGS84 degrees)")
        # NaN and nonsense read as not given
        speed = fix.speed_mps if _finite(fix.speed_mps, 0.0, 100.0) else None
        bearing = fix.bearing_deg if _finite(fix.bearing_deg, -360.0, 360.0) else None
        try:
            edge, offset = self.fixes.place(
                fix.vehicle_id, fix.trip_id, line, fix.lon, fix.lat, traffic_s, bearing, speed
            )
        except BusFixError as exc:
            raise _Refused(exc.reason, str(exc)) from None
        if speed is None:
            speed = _speed_between(line, last, fix.trip_id, edge, offset, traffic_s)
        rep = BusReport(fix.trip_id, edge, offset, speed, traffic_s)
        self.board.observe(fix.vehicle_id, rep)
        return self.board.lateness_s(rep)

    def positions(
        self, reports: Sequence[tuple[str, BusReport]], clock: TrafficClock = FIELD_CLOCK
    ) -> list[float | None]:
        """Take bus positions ``(vehicle id, report)``, their times in UTC: each bus's
        lateness (s; ``None`` off its line). Raises :class:`ScheduleError` (nothing taken)
        for an unknown trip."""
        reports = [
            (vid, BusReport(r.trip_id, r.edge_id, r.offset_m, r.speed_mps,
                            clock.to_traffic_s(r.time_s)))
            for vid, r in reports
        ]  # fmt: skip
        with self.lock:
            for _, rep in reports:
                self.board.trip(rep.trip_id)
            out = []
            for vid, rep in reports:
                self.board.observe(vid, rep)
                out.append(self.board.lateness_s(rep))
        return out

    def buses(self, now_s: float, clock: TrafficClock = FIELD_CLOCK) -> list[dict]:
        """Every bus heard of recently (``now_s``: UTC): where, how late, whether it
        qualifies, its trip and line, and the last green moved for it."""
        with self.lock:
            approaches = self.board.bus_approaches(clock.to_traffic_s(now_s))
            return [self._bus(a) for a in approaches]

    def _bus(self, a: BusApproach) -> dict:
        trip_id, line_id = self._trip_of(a.vehicle_id)
        return {
            "vehicle_id": a.vehicle_id, "trip_id": trip_id, "line_id": line_id,
            "edge_id": a.edge_id, "lateness_s": round(a.lateness_s, 1), "dwelling": a.dwelling,
            "qualifies": a.lateness_s > self.settings.late_threshold_s,
            "last_priority": self._last.get(a.vehicle_id),
        }  # fmt: skip

    def _trip_of(self, vehicle_id: str) -> tuple[str | None, str | None]:
        rep = self.board.report(vehicle_id)
        if rep is None:
            return None, None
        trip = self.board.schedule.get(rep.trip_id)
        return rep.trip_id, trip.route_id if trip is not None else None

    # -- the live control loop ---------------------------------------------------------------
    def bus_approaches(self, now_s: float) -> Sequence[BusApproach]:
        """The buses on the network now (``now_s``: traffic time), for the controller."""
        with self.lock:
            return self.board.bus_approaches(now_s)

    def given(self, action: TransitAction, utc_s: float) -> list[dict]:
        """Note a green moved for buses (at ``utc_s``): what the audit record says of each
        bus — fleet number, trip, line, lateness (s) — and the bus's last priority."""
        out = []
        with self.lock:
            for vid in action.vehicle_ids:
                trip_id, line_id = self._trip_of(vid)
                rep = self.board.report(vid)
                late = self.board.lateness_s(rep) if rep is not None else None
                out.append({"vehicle_id": vid, "trip_id": trip_id, "line_id": line_id,
                            "lateness_s": None if late is None else round(late, 1)})  # fmt: skip
                self._last[vid] = {"junction_id": action.signal_id, "action": action.action,
                                   "moved_s": round(action.moved_s, 1), "time_s": round(utc_s, 1)}  # fmt: skip
        return out

    def reset(self) -> None:
        """Forget every bus (the twin's clock started again: their times would mislead)."""
        with self.lock:
            self.board.reset()
            self._last.clear()
            if self.fixes is not None:
                self.fixes.reset()


def load_desk(
    gtfs_dir: str,
    service_day_start_s: float | None,
    late_threshold_s: float = 60.0,
    *,
    net: Network | None = None,
    fix_tolerance_s: float = 2.0,
) -> TransitDesk:
    """The desk for ``gtfs_dir``, serving buses later than ``late_threshold_s`` (s); see
    :class:`TransitDesk` for the other parameters.

    Raises
    ------
    ServiceUnavailableError
        If no GTFS feed is configured (``CLEARWAY_GTFS_DIR``) or it cannot be read (naming
        the file, or the unknown time zone).
    """
    if not gtfs_dir:
        raise ServiceUnavailableError(
            "no GTFS feed is configured: set CLEARWAY_GTFS_DIR to a folder with agency.txt, "
            "trips.txt, stop_times.txt and clearway_lines.json"
        )
    try:
        return TransitDesk(
            gtfs_dir, service_day_start_s, TransitSettings(late_threshold_s=late_threshold_s),
            net=net, fix_tolerance_s=fix_tolerance_s,
        )  # fmt: skip
    except ScheduleError as exc:
        raise ServiceUnavailableError(
            f"the GTFS feed in CLEARWAY_GTFS_DIR is unusable: {exc}"
        ) from exc
