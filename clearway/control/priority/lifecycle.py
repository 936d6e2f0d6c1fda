"""The lifecycle of a priority request, as pure functions on an immutable record.

requested -> planned -> active -> completed | cancelled | expired | rejected. Position updates
of the priority vehicle keep a request alive; one whose updates stop for ``lease_s`` expires,
which is how a crashed controller or a lost feed can never leave a junction held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from clearway.control.priority.request import (
    JunctionStatus,
    PositionUpdate,
    PriorityRequestSpec,
    RequestState,
)
from clearway.errors import ClearwayError

if TYPE_CHECKING:
    from clearway.control.priority.advice import ArrivalAdvice

S = RequestState
_ALLOWED: dict[RequestState, frozenset[RequestState]] = {
    S.REQUESTED: frozenset({S.PLANNED, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.PLANNED: frozenset({S.PLANNED, S.ACTIVE, S.CANCELLED, S.EXPIRED, S.REJECTED}),
    S.ACTIVE: frozenset({S.PLANNED, S.ACTIVE, S.COMPLETED, S.CANCELLED, S.EXPIRED}),
}


class RequestStateError(ClearwayError):
    """An action that the request's current state does not allow (e.g. updating a completed one)."""


@dataclass(frozen=True, slots=True)
class PriorityRequest:
    """One request and all that happened to it.

    Attributes
    ----------
    request_id
        clearway's id of the request.
    spec
        What was asked.
    state
        Where it is in its lifecycle.
    created_s, last_heard_s
        When it was made, and when the vehicle was last heard of (s); the lease runs from
        ``last_heard_s``.
    position
        The last position update, if any.
    route
        Planned edge ids (empty until planned).
    junctions
        Per signal along the route, the SSM-style status.
    history
        ``(time_s, state, reason)`` of every state change, oldest first.
    advice
        When its vehicle must let another through first somewhere ahead: when to arrive
        there, at what speed, and why (``None`` otherwise).
    """

    request_id: str
    spec: PriorityRequestSpec
    state: RequestState
    created_s: float
    last_heard_s: float
    position: PositionUpdate | None = None
    route: tuple[str, ...] = ()
    junctions: Mapping[str, JunctionStatus] = field(default_factory=dict)
    history: tuple[tuple[float, RequestState, str], ...] = ()
    #: It expires then unless renewed, whatever its position updates (s).
    deadline_s: float = float("inf")
    advice: ArrivalAdvice | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "junctions", MappingProxyType(dict(self.junctions)))

    @classmethod
    def new(cls, request_id: str, spec: PriorityRequestSpec, now_s: float) -> PriorityRequest:
        """A request just received (state ``requested``)."""
        start = max(now_s, spec.depart_s) if spec.depart_s is not None else now_s
        return cls(
            request_id, spec, S.REQUESTED, now_s, now_s,
            history=((now_s, S.REQUESTED, "received"),),
            deadline_s=start + spec.max_duration_s,
        )  # fmt: skip

    def renewed(self, now_s: float) -> PriorityRequest:
        """Its owner still needs it: it may live ``max_duration_s`` from now."""
        if self.state.is_final:
            raise RequestStateError(
                f"request {self.request_id!r} is {self.state.value}; it cannot be renewed"
            )
        return replace(self, deadline_s=now_s + self.spec.max_duration_s)

    @property
    def lease_expires_s(self) -> float:
        """When the request expires unless the vehicle is heard of again (s); the lease of a
        vehicle not yet heard of runs from its planned departure, if later."""
        start = self.last_heard_s
        if self.position is None and self.spec.depart_s is not None:
            start = max(start, self.spec.depart_s)
        return start + self.spec.lease_s

    def to_state(self, state: RequestState, now_s: float, reason: str) -> PriorityRequest:
        """The request moved to ``state``; :class:`RequestStateError` if that is not allowed."""
        if state not in _ALLOWED.get(self.state, frozenset()):
            raise RequestStateError(
                f"request {self.request_id!r} is {self.state.value}; it cannot become {state.value}"
            )
        junctions: Mapping[str, JunctionStatus] = self.junctions
        if state is S.REJECTED:
            junctions = dict.fromkeys(self.junctions, JunctionStatus.REJECTED)
        elif state.is_final:
            # No grant outlives its request; each junction's recovery is the controller's job.
            junctions = {}
        return replace(
            self, state=state, junctions=junctions, history=(*self.history, (now_s, state, reason))
        )

    def planned(
        self, route: tuple[str, ...], signal_ids: tuple[str, ...], now_s: float
    ) -> PriorityRequest:
        """Route chosen (first plan or re-plan); every signal on it is ``processing``."""
        if not route:
            raise RequestStateError(f"request {self.request_id!r}: a plan needs at least one edge")
        statuses = {sid: self.junctions.get(sid, JunctionStatus.PROCESSING) for sid in signal_ids}
        moved = self.to_state(
            S.PLANNED if self.state is not S.ACTIVE else S.ACTIVE, now_s, "route planned"
        )
        return replace(moved, route=tuple(route), junctions=statuses)

    def heard(self, update: PositionUpdate) -> PriorityRequest:
        """A position update of the vehicle: renews the lease; the first one activates."""
        if self.state.is_final:
            raise RequestStateError(
                f"request {self.request_id!r} is {self.state.value}; position updates are not accepted"
            )
        if self.position is not None and update.time_s < self.position.time_s:
            raise RequestStateError(
                f"position update at {update.time_s} s is older than the last one "
                f"({self.position.time_s} s); send updates in time order"
            )
        out = replace(self, position=update, last_heard_s=max(self.last_heard_s, update.time_s))
        if self.state is S.PLANNED:
            out = out.to_state(S.ACTIVE, update.time_s, "first position update")
        return out

    def with_junction(self, signal_id: str, status: JunctionStatus) -> PriorityRequest:
        """The SSM status of one junction changed."""
        if signal_id not in self.junctions:
            raise RequestStateError(
                f"request {self.request_id!r} does not pass signal {signal_id!r}"
            )
        return replace(self, junctions={**self.junctions, signal_id: status})

    def with_advice(self, advice: ArrivalAdvice | None) -> PriorityRequest:
        """The record with new arrival advice (``None``: none)."""
        return replace(self, advice=advice)

    def with_junctions(self, statuses: Mapping[str, JunctionStatus]) -> PriorityRequest:
        """New SSM statuses for (a subset of) its junctions; those left out are dropped — the
        vehicle has passed them."""
        unknown = set(statuses) - set(self.junctions)
        if unknown:
            raise RequestStateError(
                f"request {self.request_id!r} does not pass signal(s) {sorted(unknown)}"
            )
        return replace(self, junctions=dict(statuses))

    def expire_if_stale(self, now_s: float) -> PriorityRequest:
        """Expired if the vehicle has not been heard of for ``lease_s``, or its maximum
        duration has run out without renewal; else unchanged."""
        if self.state.is_final:
            return self
        if now_s >= self.deadline_s:
            return self.to_state(
                S.EXPIRED,
                now_s,
                f"held for its maximum duration ({self.spec.max_duration_s:.0f} s) without "
                "renewal; renew a request that is still needed",
            )
        if now_s < self.lease_expires_s:
            return self
        return self.to_state(
            S.EXPIRED,
            now_s,
            f"no position update for {now_s - self.last_heard_s:.1f} s (lease {self.spec.lease_s} s)",
        )
