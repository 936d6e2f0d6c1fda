"""``/convoys``: police plan an escorted convoy ahead — a priority request with role
``convoy``, its length and cruise speed, leaving at a planned time. Same lifecycle, statuses
and permissions as ``/priority-requests``; the ids are request ids."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from clearway.service import usecases
from clearway.service.auth import Permission, Principal, require
from clearway.service.context import ServiceContext, get_context
from clearway.service.routers.priority import RequestId
from clearway.service.schemas import ConvoyCreate, PriorityRequestOut

router = APIRouter(prefix="/convoys", tags=["convoys"])
_read = require(Permission.READ)
_request = require(Permission.REQUEST_PRIORITY)


@router.post("", response_model=PriorityRequestOut, status_code=201)
def create_convoy(
    body: ConvoyCreate,
    principal: Principal = Depends(_request),
    ctx: ServiceContext = Depends(get_context),
) -> PriorityRequestOut:
    """Plan a convoy's free passage, leaving in ``depart_in_s``; the whole convoy passes
    each junction on one green."""
    return usecases.create_priority_request(ctx, principal, body.as_request())


@router.get("", response_model=list[PriorityRequestOut])
def list_convoys(
    _p: Principal = Depends(_read), ctx: ServiceContext = Depends(get_context)
) -> list[PriorityRequestOut]:
    """Every convoy of this run, oldest first."""
    return usecases.list_priority_requests(ctx, role="convoy")


@router.get("/{request_id}", response_model=PriorityRequestOut)
def get_convoy(
    request_id: str = RequestId,
    _p: Principal = Depends(_read),
    ctx: ServiceContext = Depends(get_context),
) -> PriorityRequestOut:
    """One convoy's status per junction."""
    return usecases.get_convoy(ctx, request_id)


@router.delete("/{request_id}", response_model=PriorityRequestOut)
def cancel_convoy(
    request_id: str = RequestId,
    principal: Principal = Depends(_request),
    ctx: ServiceContext = Depends(get_context),
) -> PriorityRequestOut:
    """Cancel (its owner, or an operator)."""
    usecases.get_convoy(ctx, request_id)
    return usecases.cancel_priority_request(ctx, principal, request_id)
