"""``/convoys``: police plan an escorted convoy ahead — a priority request with role
``convoy``, its length and cruise speed, leaving at a planned time. Same lifecycle, statuses
and permissions as ``/priority-requests``; the ids are request ids.

``/convoys/plans``: a convoy booked for a departure window, in two steps — ``POST
/convoys/plans`` quotes it (hold window, expected vehicles held and peak flags per junction,
clashes with other bookings; nothing booked), ``POST /convoys/plans/{plan_id}/confirm`` books
it (409 naming the clash if another booking holds a junction at the same time)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query

from clearway.service import usecases
from clearway.service.auth import Permission, Principal, require
from clearway.service.context import ServiceContext, get_context
from clearway.service.plan_schemas import ConvoyPlanCreate, ConvoyPlanOut, PlanState
from clearway.service.routers.priority import RequestId
from clearway.service.schemas import ConvoyCreate, PriorityRequestOut
from clearway.service.usecases import convoy_plans

router = APIRouter(prefix="/convoys", tags=["convoys"])
_read = require(Permission.READ)
_request = require(Permission.REQUEST_PRIORITY)
PlanId = Path(pattern=r"^pl-[0-9a-f]{16}$", description="the service's convoy plan id")


@router.post("", response_model=PriorityRequestOut, status_code=201)
def create_convoy(
    body: ConvoyCreate,
    principal: Principal = Depends(_request),
    ctx: ServiceContext = Depends(get_context),
) -> PriorityRequestOut:
    """Plan a convoy's free passage, leaving in ``depart_in_s``; the whole convoy passes
    each junction on one green."""
    return usecases.create_priority_request(ctx, principal, body.as_request())


@router.post("/plans", response_model=ConvoyPlanOut, status_code=201)
def quote_plan(
    body: ConvoyPlanCreate,
    principal: Principal = Depends(_request),
    ctx: ServiceContext = Depends(get_context),
) -> ConvoyPlanOut:
    """Quote a convoy for a departure window: per junction its hold window, the vehicles
    expected to wait for it and whether it falls in a demand peak, and the bookings it clashes
    with. Nothing is booked: confirm the quote to book it."""
    return convoy_plans.quote_convoy_plan(ctx, principal, body)


@router.post("/plans/{plan_id}/confirm", response_model=ConvoyPlanOut, status_code=201)
def confirm_plan(
    plan_id: str = PlanId,
    principal: Principal = Depends(_request),
    ctx: ServiceContext = Depends(get_context),
) -> ConvoyPlanOut:
    """Book a quoted plan (its owner, or an operator): a convoy request leaving at the
    window's start. 409 if a booking now holds one of its junctions at the same time."""
    return convoy_plans.confirm_convoy_plan(ctx, principal, plan_id)


@router.get("/plans", response_model=list[ConvoyPlanOut])
def list_plans(
    state: Literal[PlanState] | None = Query(None, description="only plans in this state"),
    _p: Principal = Depends(_read),
    ctx: ServiceContext = Depends(get_context),
) -> list[ConvoyPlanOut]:
    """This run's convoy plans, oldest first: quotes, bookings and refusals."""
    return convoy_plans.list_convoy_plans(ctx, state)


@router.get("/plans/{plan_id}", response_model=ConvoyPlanOut)
def get_plan(
    plan_id: str = PlanId,
    _p: Principal = Depends(_read),
    ctx: ServiceContext = Depends(get_context),
) -> ConvoyPlanOut:
    """One convoy plan."""
    return convoy_plans.get_convoy_plan(ctx, plan_id)


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
