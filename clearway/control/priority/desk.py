"""The priority desk: where requests for free passage are handed in and followed.

Every priority strategy (``none``, ``local``, ``corridor``) offers the same desk, so a dispatcher,
the HTTP service and the evaluation harness talk to all of them alike; they differ only in what
the signals do about the requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import PriorityRequestSpec

if TYPE_CHECKING:
    from clearway.control.priority.registry import RequestBook
    from clearway.state.traffic import TrafficState


@dataclass(frozen=True, slots=True)
class RecoveryRecord:
    """One junction's return to normal operation after a priority hold.

    Attributes
    ----------
    signal_id
        The traffic light.
    request_ids
        The requests it was held for.
    hold_start_s, hold_end_s
        When the signal was taken from the normal controller and when the last hold ended (s).
    recovered_s
        When the phases that were cut had all been served and the normal controller took the
        signal back (s); ``None`` while recovery is still running.
    cut_phases
        Program phases (indices) that lost their turn to the hold and were served first.
    others_delay_veh_h
        Estimated extra delay of everyone else at this junction from the hold's start to the
        end of its recovery (veh·h; :mod:`~clearway.control.priority.hold_cost`, from detector
        queues); ``None`` when no detector state was read.
    """

    signal_id: str
    request_ids: tuple[str, ...]
    hold_start_s: float
    hold_end_s: float
    recovered_s: float | None
    cut_phases: tuple[int, ...] = ()
    others_delay_veh_h: float | None = None

    @property
    def time_to_recover_s(self) -> float | None:
        """From the end of the hold to normal operation (s); ``None`` while recovering."""
        return None if self.recovered_s is None else self.recovered_s - self.hold_end_s


@runtime_checkable
class PriorityDesk(Protocol):
    """Accepts requests and reports on them. The vehicles' positions come from a
    :class:`~clearway.ports.PriorityVehicleFeed` keyed by ``spec.requester_id``."""

    def submit(self, spec: PriorityRequestSpec, now_s: float) -> PriorityRequest:
        """Plan a request (its route) and start serving it; raises ``RouteError`` /
        ``UnknownEdgeError`` for an impossible one (nothing else changes then)."""
        ...

    def cancel(self, request_id: str, now_s: float) -> PriorityRequest:
        """Stop serving a request; its junctions recover through proper clearance."""
        ...

    def renew(self, request_id: str, now_s: float) -> PriorityRequest:
        """Its owner still needs it: it may live its ``max_duration_s`` again from now."""
        ...

    def feed_error(self, request_id: str) -> tuple[str, str] | None:
        """(kind, why) the vehicle's last position update was not used, if it was not."""
        ...

    def request(self, request_id: str) -> PriorityRequest:
        """The request's current record; ``UnknownIdError`` if there is none."""
        ...

    @property
    def requests(self) -> Mapping[str, PriorityRequest]:
        """Every request handed in, by request id."""
        ...

    def etas_s(self, request_id: str) -> Mapping[str, float]:
        """Predicted arrival time (s) at each signal still ahead of the request's vehicle."""
        ...

    @property
    def recoveries(self) -> tuple[RecoveryRecord, ...]:
        """Every junction hold and its recovery, in the order the holds ended."""
        ...


class BookDesk:
    """The desk of a controller that keeps its requests in a
    :class:`~clearway.control.priority.registry.RequestBook` (``book``), its finished
    recoveries in ``_records``, its last plan's ETAs in ``_etas`` and its last detector
    state in ``_traffic`` (for routing on live travel times)."""

    book: RequestBook
    _records: list[RecoveryRecord]
    _etas: dict[str, dict[str, float]]
    _traffic: TrafficState | None

    def submit(self, spec: PriorityRequestSpec, now_s: float) -> PriorityRequest:
        """Plan a request's route and serve it from the next tick."""
        return self.book.submit(spec, now_s, self._traffic)

    def cancel(self, request_id: str, now_s: float) -> PriorityRequest:
        """Stop serving a request; its junctions recover through proper clearance."""
        return self.book.cancel(request_id, now_s)

    def renew(self, request_id: str, now_s: float) -> PriorityRequest:
        """Its owner renews it: it may live its ``max_duration_s`` again from now."""
        return self.book.renew(request_id, now_s)

    def feed_error(self, request_id: str) -> tuple[str, str] | None:
        """(kind, why) the vehicle's last position update was not used (implausible, off
        the network ...), if it was not."""
        why = self.book.feed_errors.get(request_id)
        return None if why is None else (self.book.feed_error_kinds.get(request_id, ""), why)

    def request(self, request_id: str) -> PriorityRequest:
        """The request's current record; ``UnknownRequestError`` if there is none."""
        return self.book.request(request_id)

    @property
    def requests(self) -> Mapping[str, PriorityRequest]:
        """Every request handed in, by request id."""
        return self.book.requests

    @property
    def recoveries(self) -> tuple[RecoveryRecord, ...]:
        """Every finished junction recovery, in the order they finished."""
        return tuple(self._records)

    def etas_s(self, request_id: str) -> Mapping[str, float]:
        """Predicted arrival (s) at each signal still ahead on the request's route, as planned
        on the last tick; empty before its first plan and once it is over."""
        req = self.book.requests.get(request_id)
        if req is None or req.state.is_final:
            return {}
        return dict(self._etas.get(request_id, {}))
