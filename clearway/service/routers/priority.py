"""``/priority-requests``: request free passage, follow it per junction, send the vehicle's
positions, cancel (dispatchers and operators; viewers may read)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query

from clearway.service import usecases
from clearway.service.auth import Permission, Principal, require
from clearway.service.context import ServiceContext, get_context
from clearway.service.schemas import (
    PositionAccepted,
    PositionBatchIn,
    PositionBatchOut,
    PositionIn,
    PriorityRequestCreate,
    PriorityRequestOut,
    PriorityRole,
    RequestStateName,
)

router = APIRouter(prefix="/priority-requests", tags=["priority"])
_read = require(Permission.READ)
_request = require(Permission.REQUEST_PRIORITY)
_position = require(Permission.REQUEST_PRIORITY, rate="positions")
RequestId = Path(pattern=r"^pr-[0-9a-f]{16}$", description="the service's request id")


@router.post("", response_model=PriorityRequestOut, status_code=201)
def create_request(
    body: PriorityRequestCreate,
    principal: Principal = Depends(_request),
    ctx: ServiceContext = Depends(get_context),
) -> PriorityRequestOut:
    """Ask for free passage from origin to destination (each an edge id, or ``{lat, lon}``
    coordinates), leaving now. The caller owns the request. Unknown edge: 404; coordinates no
    lane is near, or on a net without geo-reference, or no drivable route: 422."""
    return usecases.create_priority_request(ctx, principal, body)


@router.get("", response_model=list[PriorityRequestOut])
def list_requests(
    state: RequestStateName | None = Query(None, description="only requests in this state"),
    incident_id: str | None = Query(None, max_length=64),
    owner: str | None = Query(None, max_length=64, description="principal who made them"),
    vehicle_id: str | None = Query(None, max_length=64),
    role: PriorityRole | None = Query(None),
    _p: Principal = Depends(_read),
    ctx: ServiceContext = Depends(get_context),
) -> list[PriorityRequestOut]:
    """The requests of this run (restored ones included), oldest first, with their status
    per junction; filters combine."""
    return usecases.list_priority_requests(
        ctx, state=state, incident_id=incident_id, owner=owner, vehicle_id=vehicle_id, role=role
    )


@router.get("/{request_id}", response_model=PriorityRequestOut)
def get_request(
    request_id: str = RequestId,
    _p: Principal = Depends(_read),
    ctx: ServiceContext = Depends(get_context),
) -> PriorityRequestOut:
    """One request: state, route and per-junction status (granted, processing, recovering...)."""
    return usecases.get_priority_request(ctx, request_id)


@router.delete("/{request_id}", response_model=PriorityRequestOut)
def cancel_request(
    request_id: str = RequestId,
    principal: Principal = Depends(_request),
    ctx: ServiceContext = Depends(get_context),
) -> PriorityRequestOut:
    """Cancel (its owner, or an operator); its junctions recover through proper clearance."""
    return usecases.cancel_priority_request(ctx, principal, request_id)


@router.post("/{request_id}/positions", response_model=PositionAccepted, status_code=201)
async def add_position(
    body: PositionIn,
    request_id: str = RequestId,
    principal: Principal = Depends(_position),
    ctx: ServiceContext = Depends(get_context),
) -> PositionAccepted:
    """A position of the request's vehicle (its owner only): a GPS fix (``lat``, ``lon``,
    optional ``heading_deg``, ``accuracy_m``) stamped in UTC (``timestamp``), or for the twin
    an ``edge_id`` + ``offset_m`` with ``time_s``. A stale, replayed or out-of-order update,
    or one too old or from the future, is refused with 409; lat/lon on a net without
    geo-reference with 422."""
    return await usecases.add_position(ctx, principal, request_id, body)


@router.post("/{request_id}/renew", response_model=PriorityRequestOut)
def renew_request(
    request_id: str = RequestId,
    principal: Principal = Depends(_request),
    ctx: ServiceContext = Depends(get_context),
) -> PriorityRequestOut:
    """Renew (its owner, or an operator): the request may live its ``max_duration_s`` again
    from now. A request is never held longer than that without renewal."""
    return usecases.renew_priority_request(ctx, principal, request_id)


batch_router = APIRouter(tags=["priority"])


@batch_router.post("/positions", response_model=PositionBatchOut)
async def add_positions(
    body: PositionBatchIn,
    principal: Principal = Depends(_position),
    ctx: ServiceContext = Depends(get_context),
) -> PositionBatchOut:
    """Up to 500 position updates of one's own requests in one call (an AVL feed). Each is
    checked, stored and audited as a single update would be and has its own result (201,
    403, 404, 409 ...); the call itself is 200. Each update counts against the rate limit."""
    return await usecases.add_positions(ctx, principal, body)
