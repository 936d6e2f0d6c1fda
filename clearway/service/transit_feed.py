"""A transit operator's feed into the service: GTFS-realtime and bus positions, to lateness.

The service loads a GTFS static feed from ``CLEARWAY_GTFS_DIR`` (``trips.txt``,
``stop_times.txt``, and :data:`~clearway.control.priority.bus_board.LINES_FILE` with each
line's path on the network) into a :class:`~clearway.control.priority.bus_board.BusBoard`.
The operator then sends either

* a GTFS-realtime ``FeedMessage`` (protobuf, decoded with ``gtfs-realtime-bindings``):
  a TripUpdate's delay (the trip's, else its first stop-time update's arrival or departure
  delay) is taken as the trip's lateness; a VehiclePosition that is ``STOPPED_AT`` a stop
  with a timestamp is measured against the static schedule at that stop;
* or bus positions on the network (edge, offset, speed) with their trip ids, measured against
  the schedule by distance along the line.

The board counts in *traffic time* (:mod:`clearway.service.clock`), the control loop's own
clock; feeds carry UTC, and every time in them is turned into traffic time with the
service's :class:`~clearway.service.clock.TrafficClock` before the board sees it. GTFS times
count from the board's ``service_day_start_s`` (traffic time): on field equipment (traffic
time = UTC) the UTC midnight of the day the service started (the agency's own time zone is
not applied); on the twin traffic time 0, the simulated day's start. What the board holds only
ever leads to a green extension or an early green (:mod:`clearway.control.priority.transit`),
never to preemption.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2

from clearway.control.priority.bus_board import BusBoard, BusReport, read_lines
from clearway.control.priority.gtfs import ScheduleError, lateness_at_stop_s, read_schedule
from clearway.control.priority.transit import TransitSettings
from clearway.control.transit_control import BusApproach, TransitAction
from clearway.errors import ClearwayError, ServiceUnavailableError
from clearway.service.clock import FIELD_CLOCK, TrafficClock

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


def decode_feed(
    body: bytes,
    board: BusBoard,
    now_s: float,
    to_traffic_s: Callable[[float], float] = float,
) -> tuple[list[TripDelay], list[str]]:
    """The delays a GTFS-realtime ``body`` gives for trips of ``board``'s schedule, and the
    trip ids it names that the schedule does not hold (ignored).

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
    for entity in msg.entity:
        if entity.HasField("trip_update"):
            tu = entity.trip_update
            trip_id = tu.trip.trip_id
            at = to_traffic_s(float(tu.timestamp) if tu.HasField("timestamp") else header_s)
            delay = _trip_update_delay(tu)
        elif entity.HasField("vehicle") and entity.vehicle.current_status == _STOPPED_AT:
            vp = entity.vehicle
            trip_id = vp.trip.trip_id
            at = to_traffic_s(float(vp.timestamp) if vp.HasField("timestamp") else header_s)
            delay = None
            trip = board.schedule.get(trip_id)
            if trip is not None and vp.HasField("current_stop_sequence"):
                try:
                    delay = lateness_at_stop_s(
                        trip, vp.current_stop_sequence, at - board.service_day_start_s
                    )
                except ScheduleError:
                    delay = None
        else:
            continue
        if trip_id not in board.schedule:
            unknown.append(trip_id)
        elif delay is not None:
            delays.append(TripDelay(trip_id, delay, at))
    return delays, unknown


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
        Traffic time of the service day's start (s): UTC midnight on field equipment (and
        without a runtime), 0 on the twin.
    settings
        The threshold a bus must be late by to be served (reported per bus).

    Every method taking a feed's time takes the service's ``clock`` (UTC to traffic time;
    :data:`~clearway.service.clock.FIELD_CLOCK`, the identity, by default). The desk is also
    the live control loop's :class:`~clearway.control.transit_control.BusSource`.
    """

    def __init__(
        self,
        gtfs_dir: str | Path,
        service_day_start_s: float,
        settings: TransitSettings | None = None,
    ) -> None:
        self.board = BusBoard(
            read_schedule(gtfs_dir), read_lines(gtfs_dir), service_day_start_s=service_day_start_s
        )
        self.settings = settings or TransitSettings()
        self.lock = threading.Lock()
        #: Per bus: the last green moved for it (junction, action, moved_s, time_s UTC).
        self._last: dict[str, dict] = {}

    def feed(
        self, body: bytes, now_s: float, clock: TrafficClock = FIELD_CLOCK
    ) -> tuple[list[TripDelay], list[str]]:
        """Take a GTFS-realtime body (``now_s``: UTC): the delays taken and the unknown
        trip ids."""
        with self.lock:
            delays, unknown = decode_feed(body, self.board, now_s, clock.to_traffic_s)
            for d in delays:
                self.board.observe_delay(d.trip_id, d.delay_s, d.time_s)
        return delays, unknown

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


def load_desk(
    gtfs_dir: str, service_day_start_s: float, late_threshold_s: float = 60.0
) -> TransitDesk:
    """The desk for ``gtfs_dir``, serving buses later than ``late_threshold_s`` (s).

    Raises
    ------
    ServiceUnavailableError
        If no GTFS feed is configured (``CLEARWAY_GTFS_DIR``) or it cannot be read.
    """
    if not gtfs_dir:
        raise ServiceUnavailableError(
            "no GTFS feed is configured: set CLEARWAY_GTFS_DIR to a folder with trips.txt, "
            "stop_times.txt and clearway_lines.json"
        )
    try:
        return TransitDesk(
            gtfs_dir, service_day_start_s, TransitSettings(late_threshold_s=late_threshold_s)
        )
    except ScheduleError as exc:
        raise ServiceUnavailableError(
            f"the GTFS feed in CLEARWAY_GTFS_DIR is unusable: {exc}"
        ) from exc
