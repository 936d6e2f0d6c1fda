"""Use cases of priority requests: create, follow, list, cancel; the vehicle's positions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import NoReturn

from starlette.concurrency import run_in_threadpool

from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import (
    Convoy,
    EdgePlace,
    LonLat,
    PositionUpdate,
    PriorityRequestSpec,
    Role,
)
from clearway.errors import (
    ClearwayError,
    ConflictError,
    PermissionDeniedError,
    RouteError,
    ServiceUnavailableError,
    UnknownRequestError,
)
from clearway.service.area_cap import check_area_cap, concurrent, signal_cells
from clearway.service.auth import Permission, Principal, roles_with
from clearway.service.clock import TrafficClock, check_sample_time, utc_datetime
from clearway.service.context import ServiceContext
from clearway.service.http_errors import status_of
from clearway.service.live_state import request_view
from clearway.service.places import (
    ClocklessError,
    request_place,
    require_geo,
    road_edge,
)
from clearway.service.positions import PositionRecord
from clearway.service.request_index import LiveRequest
from clearway.service.runtime import ServiceRuntime
from clearway.service.schemas import (
    ArrivalAdviceOut,
    ConvoyIn,
    HistoryOut,
    JunctionStatusOut,
    PositionAccepted,
    PositionBatchIn,
    PositionBatchOut,
    PositionIn,
    PositionResult,
    PriorityRequestCreate,
    PriorityRequestOut,
)
from clearway.storage import requests as request_store
from clearway.storage.audit import AuditKind


def _utc(clock: TrafficClock | None, traffic_s: float | None) -> datetime | None:
    """A traffic time as UTC, where the clock gives one."""
    if clock is None or traffic_s is None:
        return None
    return utc_datetime(clock.to_utc_s(traffic_s))


def _request_out(live: LiveRequest, clock: TrafficClock | None = None) -> PriorityRequestOut:
    rec = live.record
    view = request_view(live)
    return PriorityRequestOut(
        request_id=live.request_id,
        vehicle_id=rec.spec.requester_id,
        role=rec.spec.role.value,
        incident_id=rec.spec.incident_id,
        owner=live.owner,
        state=rec.state.value,
        route=list(rec.route),
        junctions=[
            JunctionStatusOut(
                signal_id=sid, status=status, eta_s=view.etas_s.get(sid),
                eta_utc=_utc(clock, view.etas_s.get(sid)),
            )  # fmt: skip
            for sid, status in view.junctions.items()
        ],
        created_s=rec.created_s,
        depart_s=rec.spec.depart_s,
        lease_expires_s=rec.lease_expires_s,
        deadline_s=rec.deadline_s if rec.deadline_s != float("inf") else None,
        created_utc=_utc(clock, rec.created_s),
        lease_expires_utc=_utc(clock, rec.lease_expires_s),
        deadline_utc=_utc(clock, rec.deadline_s if rec.deadline_s != float("inf") else None),
        flag=live.flag,
        convoy=ConvoyIn(**rec.spec.convoy.model_dump()) if rec.spec.convoy is not None else None,
        simulated=live.simulated,
        advice=_advice_out(rec, clock),
        history=[HistoryOut(time_s=t, state=st.value, reason=r) for t, st, r in rec.history],
    )


def _advice_out(rec: PriorityRequest, clock: TrafficClock | None) -> ArrivalAdviceOut | None:
    a = rec.advice
    if a is None:
        return None
    return ArrivalAdviceOut(
        signal_id=a.signal_id, yields_to=a.yields_to, green_from_s=a.green_from_s,
        arrive_after_s=a.arrive_after_s, arrive_after_utc=_utc(clock, a.arrive_after_s),
        speed_mps=a.speed_mps, reason=a.reason,
    )  # fmt: skip


def _stored_out(st: request_store.StoredRequest) -> PriorityRequestOut:
    """A request of an earlier run of the service, as stored (finished: no live status)."""
    spec, detail = st.spec, st.detail
    convoy = spec.get("convoy")
    return PriorityRequestOut(
        request_id=st.request_id,
        vehicle_id=st.requester_id,
        role=str(spec.get("role", "")),
        incident_id=st.incident_id,
        owner=st.principal or "",
        state=st.status,
        route=list(detail.get("route", ())),
        junctions=[],
        created_s=st.created_s if st.created_s is not None else 0.0,
        depart_s=spec.get("depart_s"),
        lease_expires_s=st.last_heard_s if st.last_heard_s is not None else 0.0,
        convoy=ConvoyIn(**convoy) if convoy else None,
        simulated=bool(detail.get("simulated")),
        history=[HistoryOut(time_s=0.0, state=st.status, reason=str(detail.get("reason", "")))],
    )


def create_priority_request(
    ctx: ServiceContext, principal: Principal, body: PriorityRequestCreate
) -> PriorityRequestOut:
    """Hand a request to the live desk, leaving now; stored, audited, owned by ``principal``.

    Raises
    ------
    UnknownEdgeError
        ``origin_edge`` or ``destination_edge`` is not in the network (404); nothing changed.
    RouteError
        No drivable route between them (422); nothing changed.
    """
    runtime = ctx.require_runtime()
    net, graph = ctx.require_network(), ctx.routing_graph()
    origin = request_place(
        net, graph, "origin", body.origin_edge, body.origin_offset_m, body.origin
    )
    destination = request_place(
        net, graph, "destination", body.destination_edge, None, body.destination
    )
    spec = PriorityRequestSpec(
        requester_id=body.vehicle_id,
        role=Role(body.role),
        importance=body.importance,
        incident_id=body.incident_id,
        origin=origin,
        destination=destination,
        convoy=Convoy(**body.convoy.model_dump()) if body.convoy is not None else None,
        lease_s=body.lease_s,
        depart_s=runtime.now_s() + body.depart_in_s,
        max_duration_s=body.max_duration_s,
    )
    if body.simulate and body.depart_in_s > 0:
        raise ConflictError(
            "simulate: the twin's vehicle leaves now; give depart_in_s 0 or simulate false"
        )
    _refuse_duplicate_vehicle(runtime, body.vehicle_id)
    admit = None if principal.may(Permission.CANCEL_ANY_REQUEST) else _area_cap(ctx)
    try:
        live = runtime.create(spec, principal.name, simulate=body.simulate, admit=admit)
    except RouteError as exc:
        raise RouteError(f"origin -> destination: {exc}") from None
    return _request_out(live, ctx.traffic_clock())


def _area_cap(ctx: ServiceContext) -> Callable[[PriorityRequest, list[LiveRequest]], None]:
    """The district cap (:mod:`clearway.service.area_cap`) as the runtime's admission check:
    only requests that may hold junctions at the same time as the new one count (a convoy
    booked for tomorrow does not fill a district today)."""
    net, cell_m = ctx.require_network(), ctx.settings.area_cell_m

    def admit(record: PriorityRequest, unfinished: list[LiveRequest]) -> None:
        check_area_cap(
            signal_cells(net, record.junctions, cell_m),
            {
                live.request_id: signal_cells(net, live.record.junctions, cell_m)
                for live in concurrent(record, unfinished)
            },
            cap=ctx.settings.max_corridors_per_area,
            cell_m=cell_m,
        )

    return admit


def _refuse_duplicate_vehicle(runtime: ServiceRuntime, vehicle_id: str) -> None:
    # From the request index, not the desk's records: no wait for a tick in progress.
    rid = runtime.unfinished_of(vehicle_id)
    if rid is not None:
        raise ConflictError(
            f"vehicle_id {vehicle_id!r} has an unfinished request {rid!r}; "
            "cancel it first or use another vehicle id"
        )


def get_priority_request(ctx: ServiceContext, request_id: str) -> PriorityRequestOut:
    """One request's status per junction; one of an earlier run as stored; else
    :class:`UnknownRequestError` (404)."""
    runtime = ctx.require_runtime()
    try:
        return _request_out(runtime.get(request_id), ctx.traffic_clock())
    except UnknownRequestError:
        with ctx.sessions() as session:
            return _stored_out(request_store.get_request(session, request_id))


def list_priority_requests(
    ctx: ServiceContext,
    *,
    state: str | None = None,
    incident_id: str | None = None,
    owner: str | None = None,
    vehicle_id: str | None = None,
    role: str | None = None,
) -> list[PriorityRequestOut]:
    """The requests of this service run (restored ones included), oldest first, that match
    every filter given."""
    clock = ctx.traffic_clock()
    out = [_request_out(live, clock) for live in ctx.require_runtime().list()]
    wanted = {
        "state": state, "incident_id": incident_id, "owner": owner, "vehicle_id": vehicle_id,
        "role": role,
    }  # fmt: skip
    return [r for r in out if all(getattr(r, k) == v for k, v in wanted.items() if v is not None)]


def _refuse(ctx: ServiceContext, principal: Principal, route: str, reason: str) -> NoReturn:
    ctx.metrics.auth_failures.labels("403").inc()
    ctx.audit.append(
        AuditKind.AUTH_FAILED,
        principal=principal.name,
        payload={"route": route, "status": 403, "reason": reason, "key_id": principal.key_id},
    )
    raise PermissionDeniedError(reason)


def cancel_priority_request(
    ctx: ServiceContext, principal: Principal, request_id: str
) -> PriorityRequestOut:
    """Cancel a request: its owner, or a role that may cancel any (operator); else 403."""
    runtime = ctx.require_runtime()
    live = runtime.get(request_id)
    if live.owner != principal.name and not principal.may(Permission.CANCEL_ANY_REQUEST):
        _refuse(
            ctx,
            principal,
            "/priority-requests/{request_id}",
            f"only the owner of {request_id!r} or one of the roles "
            f"{', '.join(roles_with(Permission.CANCEL_ANY_REQUEST))} may cancel it",
        )
    return _request_out(runtime.cancel(request_id, principal.name), ctx.traffic_clock())


def renew_priority_request(
    ctx: ServiceContext, principal: Principal, request_id: str
) -> PriorityRequestOut:
    """Renew a request (its owner, or an operator): it may live its ``max_duration_s`` again
    from now. 403 for anyone else; 409 if it is finished."""
    runtime = ctx.require_runtime()
    owner, _, _ = runtime.brief(request_id)
    if owner != principal.name and not principal.may(Permission.CANCEL_ANY_REQUEST):
        _refuse(
            ctx,
            principal,
            "/priority-requests/{request_id}/renew",
            f"only the owner of {request_id!r} or one of the roles "
            f"{', '.join(roles_with(Permission.CANCEL_ANY_REQUEST))} may renew it",
        )
    return _request_out(runtime.renew(request_id, principal.name), ctx.traffic_clock())


async def add_position(
    ctx: ServiceContext, principal: Principal, request_id: str, body: PositionIn
) -> PositionAccepted:
    """Record a position update of the request's vehicle (its owner only).

    Runs on the event loop (no worker thread): the checks are in memory and the write is
    awaited on the database writer — position updates are the service's hottest path.

    Raises
    ------
    PermissionDeniedError
        Not the owner (403, audited).
    ConflictError
        ``seq`` or the time not after the last update's (stale, replayed, out of order), the
        time older than ``max_position_age_s`` or ahead of now by more than
        ``clock_tolerance_s`` (:class:`SampleTimeError`), or the request is finished (409);
        nothing stored.
    UnknownEdgeError
        ``edge_id`` is not in the network (404).
    NoGeoReferenceError, ClocklessError
        ``lat``/``lon`` on a network without geo-reference; a UTC ``timestamp`` while the
        twin runs as fast as it can (422).
    """
    runtime = ctx.require_runtime()
    owner, vehicle_id, finished = runtime.brief(request_id)
    if owner != principal.name:
        await run_in_threadpool(
            _refuse,
            ctx,
            principal,
            "/priority-requests/{request_id}/positions",
            f"only the owner of {request_id!r} may send its positions",
        )
    if finished:
        raise ConflictError(
            f"request {request_id!r} is finished; position updates are not accepted (make a "
            "new request)"
        )
    place = _position_place(ctx, body)
    clock = runtime.traffic_clock()
    sent_s = _sent_time_s(ctx, clock, body)
    time_s = sent_s if sent_s is not None else runtime.clock_s()
    recorder = runtime.positions
    if recorder is None:
        raise ServiceUnavailableError("the live runtime is not running; try again later")
    rec = PositionRecord(
        request_id, principal.name, body.seq, sent_s, time_s, place, body.speed_mps,
        heading_deg=body.heading_deg, accuracy_m=body.accuracy_m, sent_utc_s=body.timestamp,
    )  # fmt: skip
    stored_seq = await recorder.record_async(rec)
    # Stored and audited first: the controller acts only on a position the record holds.
    # The sample keeps its own time: the corridor projects it forward by its age.
    runtime.push_position(
        vehicle_id,
        PositionUpdate(
            time_s=time_s, place=place, speed_mps=body.speed_mps,
            heading_deg=body.heading_deg, accuracy_m=body.accuracy_m,
        ),  # fmt: skip
    )
    return PositionAccepted(
        request_id=request_id, seq=body.seq, stored_seq=stored_seq, time_s=time_s,
        time_utc=_utc(clock, time_s),
    )  # fmt: skip


def _position_place(ctx: ServiceContext, body: PositionIn) -> EdgePlace | LonLat:
    net = ctx.require_network()
    if body.edge_id is not None:
        return EdgePlace(
            edge_id=road_edge(net, body.edge_id, "edge_id"), offset_m=body.offset_m or 0.0
        )
    assert body.lat is not None and body.lon is not None  # the schema asks for one place
    require_geo(net, "lat/lon")
    return LonLat(lon=body.lon, lat=body.lat)


def _sent_time_s(
    ctx: ServiceContext, clock: TrafficClock | None, body: PositionIn
) -> float | None:
    """The traffic time of the sample's own time stamp, checked against now; ``None`` if it
    sent none. With no clock (a twin at speed 0) a ``time_s`` is taken as it is and a UTC
    ``timestamp`` refused: such a twin's time has no UTC equivalent."""
    if body.timestamp is None and body.time_s is None:
        return None
    if clock is None:
        if body.timestamp is not None:
            raise ClocklessError(
                "timestamp: the twin runs as fast as it can (--speed 0), so its traffic time "
                "has no UTC equivalent; send time_s (traffic time) instead, or serve at a "
                "speed > 0"
            )
        return body.time_s
    utc_s = body.timestamp if body.timestamp is not None else clock.to_utc_s(body.time_s or 0.0)
    return check_sample_time(
        utc_s, time.time(), max_age_s=ctx.settings.max_position_age_s,
        tolerance_s=ctx.settings.clock_tolerance_s, clock=clock,
    )  # fmt: skip


def get_convoy(ctx: ServiceContext, request_id: str) -> PriorityRequestOut:
    """A request with role ``convoy``; :class:`UnknownRequestError` (404) for any other id."""
    out = get_priority_request(ctx, request_id)
    if out.role != "convoy":
        raise UnknownRequestError(request_id, (), where="the convoys (it is not a convoy)")
    return out


async def add_positions(
    ctx: ServiceContext, principal: Principal, body: PositionBatchIn
) -> PositionBatchOut:
    """Many position updates at once: each as :func:`add_position` would take it, with its
    own result; requests in parallel (their writes share commits), each request's updates in
    the order given. The rate limit counts every update."""
    ctx.limiter.take(principal.name, "positions", cost=len(body.updates) - 1)
    results: list[PositionResult | None] = [None] * len(body.updates)
    by_request: dict[str, list[int]] = {}
    for i, item in enumerate(body.updates):
        by_request.setdefault(item.request_id, []).append(i)

    async def one_request(indices: list[int]) -> None:
        for i in indices:
            item = body.updates[i]
            update = PositionIn(**item.model_dump(exclude={"request_id"}))
            try:
                ok = await add_position(ctx, principal, item.request_id, update)
            except ClearwayError as exc:
                results[i] = PositionResult(
                    request_id=item.request_id, seq=item.seq, status=status_of(exc),
                    error=type(exc).__name__, detail=str(exc),
                )  # fmt: skip
            else:
                results[i] = PositionResult(
                    request_id=item.request_id, seq=item.seq, status=201,
                    stored_seq=ok.stored_seq, time_s=ok.time_s, time_utc=ok.time_utc,
                )  # fmt: skip

    await asyncio.gather(*(one_request(ix) for ix in by_request.values()))
    done = [r for r in results if r is not None]
    return PositionBatchOut(accepted=sum(r.status == 201 for r in done), results=done)
