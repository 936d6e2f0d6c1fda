"""In-process dispatch for the virtual street: hands its requests and GPS reports straight to
a field run's desk and pushed feed (tests and benchmarks without the HTTP service)."""

from __future__ import annotations

import queue

from clearway.control.priority.request import LonLat, PositionUpdate, PriorityRequestSpec, Role
from clearway.field.virtual.dispatch import TripPlan


class LocalDispatch:
    """What :class:`~clearway.field.virtual.dispatch.DispatchClient` does over HTTP, in
    process: requests are queued for the control thread (:meth:`serve_pending`), positions
    pushed to the feed with their measurement time as traffic time."""

    def __init__(self, pushed, clock_of_utc) -> None:  # noqa: ANN001
        self.pushed = pushed
        self._to_traffic = clock_of_utc
        self._requests: queue.Queue[tuple[PriorityRequestSpec, queue.Queue]] = queue.Queue()
        self.errors: list[str] = []

    def request(self, plan: TripPlan, lonlats) -> tuple[str, tuple[str, ...]]:  # noqa: ANN001
        (olon, olat), (dlon, dlat) = lonlats
        spec = PriorityRequestSpec(
            requester_id=plan.vehicle_id, role=Role(plan.role), importance=14,
            incident_id=plan.incident_id, origin=LonLat(lon=olon, lat=olat),
            destination=LonLat(lon=dlon, lat=dlat), lease_s=30.0,
        )  # fmt: skip
        answer: queue.Queue = queue.Queue()
        self._requests.put((spec, answer))
        out = answer.get(timeout=30)
        if isinstance(out, BaseException):
            raise out
        return out

    def serve_pending(self, desk, now_s: float) -> None:  # noqa: ANN001
        """Submit queued requests to ``desk`` (call from the control thread)."""
        while True:
            try:
                spec, answer = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                req = desk.submit(spec, now_s)
                answer.put((req.request_id, tuple(req.route)))
            except Exception as exc:  # the street reports it
                answer.put(exc)

    def position(self, request_id: str, *, seq: int, lat: float, lon: float, heading_deg: float,
                 speed_mps: float, accuracy_m: float, utc_s: float) -> None:  # fmt: skip
        self.pushed.push(request_id.split("#")[0], PositionUpdate(
            time_s=self._to_traffic(utc_s), place=LonLat(lon=lon, lat=lat),
            speed_mps=min(speed_mps, 70.0), heading_deg=heading_deg % 360.0, accuracy_m=accuracy_m,
        ))  # fmt: skip

    def take_errors(self) -> list[str]:
        out, self.errors = self.errors, []
        return out

    def close(self) -> None:
        pass

