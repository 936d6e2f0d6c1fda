"""The service's requests: their ids, owners and desk records.

The desk numbers requests its own way; the service gives each a stable id (``pr-`` + 16 hex
digits) that survives a restart, an owner, and remembers what it last wrote about each one.
Written under the runtime's lock; :meth:`RequestIndex.brief` is read by request handlers
without it (one dict lookup), so a position update never waits for a tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from clearway.control.priority.desk import PriorityDesk
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.errors import UnknownRequestError
from clearway.service.runtime_records import Signature, signature


@dataclass(frozen=True, slots=True)
class LiveRequest:
    """A request as the service knows it.

    Attributes
    ----------
    request_id
        The service's id (``pr-`` + 16 hex digits); the desk's own id is ``desk_id``.
    owner
        Name of the principal who made it.
    record
        The desk's record (state, route, per-junction status, history).
    recovering
        Signals of this request whose hold ended and which are still serving the phases it
        cut (their normal operation is not back yet).
    etas_s
        Predicted arrival at each signal ahead, where planned (traffic time, s).
    simulated
        The twin drives a vehicle for it.
    flag
        Why its vehicle's last refused position was refused (implausible ...), if one was.
    """

    request_id: str
    desk_id: str
    owner: str
    record: PriorityRequest
    recovering: tuple[str, ...] = ()
    etas_s: dict[str, float] | None = None
    simulated: bool = False
    flag: str | None = None


class RequestIndex:
    """Service id -> desk id, owner, vehicle, and what was last written about the request."""

    def __init__(self) -> None:
        self._desk_ids: dict[str, str] = {}
        self._owners: dict[str, str] = {}
        self._known: dict[str, Signature] = {}
        #: (owner, vehicle id, finished?) per service id: read without the runtime's lock.
        self._brief: dict[str, tuple[str, str, bool]] = {}
        self._simulated: set[str] = set()
        self._flags: dict[str, str] = {}

    def flag(self, rid: str, reason: str) -> bool:
        """Note why the request's last position was refused; whether the reason is new."""
        if self._flags.get(rid) == reason:
            return False
        self._flags[rid] = reason
        return True

    def add(self, rid: str, owner: str, record: PriorityRequest, simulated: bool) -> None:
        self._desk_ids[rid] = record.request_id
        self._owners[rid] = owner
        self._known[rid] = signature(record)
        self._brief[rid] = (owner, record.spec.requester_id, record.state.is_final)
        if simulated:
            self._simulated.add(rid)

    def remove(self, rid: str) -> tuple[str, str] | None:
        """Forget a request; its (desk id, vehicle id), if it was known."""
        desk_id = self._desk_ids.pop(rid, None)
        self._owners.pop(rid, None)
        self._known.pop(rid, None)
        self._simulated.discard(rid)
        self._flags.pop(rid, None)
        brief = self._brief.pop(rid, None)
        return None if desk_id is None or brief is None else (desk_id, brief[1])

    def simulated_ids(self) -> list[str]:
        """Service ids of the requests whose vehicles the twin drives, oldest first."""
        return [rid for rid in self._owners if rid in self._simulated]

    def ids(self) -> list[str]:
        """Service ids, oldest first."""
        return list(self._owners)

    def desk_id(self, rid: str) -> str:
        try:
            return self._desk_ids[rid]
        except KeyError:
            raise UnknownRequestError(rid, self._desk_ids, where="this service run") from None

    def service_ids(self, desk_ids: Iterable[str]) -> list[str]:
        """The service ids of the requests known by ``desk_ids`` (unknown ones left out)."""
        wanted = set(desk_ids)
        return sorted(rid for rid, d in self._desk_ids.items() if d in wanted)

    def brief(self, rid: str) -> tuple[str, str, bool]:
        """(owner, vehicle id, finished?); :class:`UnknownRequestError` if unknown."""
        found = self._brief.get(rid)
        if found is None:
            raise UnknownRequestError(rid, (), where="this service run")
        return found

    def live(self, desk: PriorityDesk, rid: str) -> LiveRequest:
        """The request as it is now on ``desk``."""
        desk_id = self.desk_id(rid)
        recovering = tuple(
            r.signal_id
            for r in desk.recoveries
            if r.recovered_s is None and desk_id in r.request_ids
        )
        return LiveRequest(
            rid, desk_id, self._owners[rid], desk.request(desk_id), recovering,
            dict(desk.etas_s(desk_id)), rid in self._simulated, self._flags.get(rid),
        )  # fmt: skip

    def changed(self, desk: PriorityDesk) -> dict[str, PriorityRequest]:
        """Requests whose state or junction statuses moved since last written."""
        out = {}
        for rid, desk_id in self._desk_ids.items():
            record = desk.request(desk_id)
            if signature(record) != self._known[rid]:
                out[rid] = record
        return out

    @property
    def known(self) -> dict[str, Signature]:
        """What was last written per request (state, junction statuses)."""
        return self._known

    def written(self, rid: str, record: PriorityRequest) -> None:
        """``record`` is what the database holds now."""
        self._known[rid] = signature(record)
        if record.state.is_final:
            owner, vehicle, _ = self._brief[rid]
            self._brief[rid] = (owner, vehicle, True)

    def unfinished_of(self, vehicle_id: str) -> str | None:
        """The id of an unfinished request for this vehicle, as last written; ``None``."""
        return next(
            (
                rid
                for rid, (_, v, done) in list(self._brief.items())
                if v == vehicle_id and not done
            ),
            None,
        )

    def vehicle_busy(self, desk: PriorityDesk, vehicle_id: str) -> bool:
        """Whether an unfinished request is for this vehicle."""
        return any(
            not desk.request(d).state.is_final and desk.request(d).spec.requester_id == vehicle_id
            for d in self._desk_ids.values()
        )
