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

GTFS times are read as seconds after the UTC midnight of the day the service started (the
agency's own time zone is not applied). What the board holds only ever leads to a green
extension or an early green (:mod:`clearway.control.priority.transit`), never to preemption.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2

from clearway.control.priority.bus_board import BusBoard, BusReport, read_lines
from clearway.control.priority.gtfs import ScheduleError, lateness_at_stop_s, read_schedule
from clearway.control.priority.transit import TransitSettings
from clearway.errors import ClearwayError, ServiceUnavailableError

_STOPPED_AT = gtfs_realtime_pb2.VehiclePosition.VehicleStopStatus.Value("STOPPED_AT")


class FeedDecodeError(ClearwayError):
    """The body is not a GTFS-realtime FeedMessage clearway can read."""


@dataclass(frozen=True, slots=True)
class TripDelay:
    """A trip's lateness from the feed: trip id, delay (s, positive = late), when (s, UTC)."""

    trip_id: str
    delay_s: float
    time_s: float


def decode_feed(body: bytes, board: BusBoard, now_s: float) -> tuple[list[TripDelay], list[str]]:
    """The delays a GTFS-realtime ``body`` gives for trips of ``board``'s schedule, and the
    trip ids it names that the schedule does not hold (ignored).

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
            at = float(tu.timestamp) if tu.HasField("timestamp") else header_s
            delay = _trip_update_delay(tu)
        elif entity.HasField("vehicle") and entity.vehicle.current_status == _STOPPED_AT:
            vp = entity.vehicle
            trip_id = vp.trip.trip_id
            at = float(vp.timestamp) if vp.HasField("timestamp") else header_s
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
        UTC time of the service day's start (s).
    settings
        The threshold a bus must be late by to be served (reported per bus).
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

    def feed(self, body: bytes, now_s: float) -> tuple[list[TripDelay], list[str]]:
        """Take a GTFS-realtime body: the delays taken and the unknown trip ids."""
        with self.lock:
            delays, unknown = decode_feed(body, self.board, now_s)
            for d in delays:
                self.board.observe_delay(d.trip_id, d.delay_s, d.time_s)
        return delays, unknown

    def positions(self, reports: Sequence[tuple[str, BusReport]]) -> list[float | None]:
        """Take bus positions ``(vehicle id, report)``: each bus's lateness (s; ``None`` off
        its line). Raises :class:`ScheduleError` (nothing taken) for an unknown trip."""
        with self.lock:
            for _, rep in reports:
                self.board.trip(rep.trip_id)
            out = []
            for vid, rep in reports:
                self.board.observe(vid, rep)
                out.append(self.board.lateness_s(rep))
        return out

    def buses(self, now_s: float) -> list[dict]:
        """Every bus heard of recently: where, how late, whether it qualifies."""
        with self.lock:
            approaches = self.board.bus_approaches(now_s)
        return [
            {"vehicle_id": a.vehicle_id, "edge_id": a.edge_id, "lateness_s": round(a.lateness_s, 1),
             "dwelling": a.dwelling, "qualifies": a.lateness_s > self.settings.late_threshold_s}
            for a in approaches
        ]  # fmt: skip


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
