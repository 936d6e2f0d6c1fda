"""``/junctions``: the signalised junctions, their intersection models, live state, and the
normal strategy per junction (operators)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from clearway.service import usecases
from clearway.service.auth import Permission, Principal, require
from clearway.service.context import ServiceContext, get_context
from clearway.service.schemas import (
    JunctionModel,
    JunctionStateOut,
    JunctionSummary,
    StrategyIn,
    StrategyOut,
)

router = APIRouter(prefix="/junctions", tags=["junctions"])
_read = require(Permission.READ)
_plans = require(Permission.CHANGE_PLANS)
_JunctionId = Path(max_length=256, description="traffic-light id or junction id")


@router.get("", response_model=list[JunctionSummary])
def list_junctions(
    _p: Principal = Depends(_read), ctx: ServiceContext = Depends(get_context)
) -> list[JunctionSummary]:
    """Every signalised junction, keyed by its traffic-light id."""
    return usecases.list_junctions(ctx)


@router.get("/{junction_id}", response_model=JunctionModel)
def get_junction(
    junction_id: str = _JunctionId,
    _p: Principal = Depends(_read),
    ctx: ServiceContext = Depends(get_context),
) -> JunctionModel:
    """Links, conflicts, safety timings (s) and signal programs of one junction."""
    return usecases.junction_model(ctx, junction_id)


@router.get("/{junction_id}/state", response_model=JunctionStateOut)
def get_junction_state(
    junction_id: str = _JunctionId,
    _p: Principal = Depends(_read),
    ctx: ServiceContext = Depends(get_context),
) -> JunctionStateOut:
    """What the junction shows now, its normal strategy, the priority requests there, and
    the people waiting at its crossings (counts; null without pedestrian detectors)."""
    return usecases.junction_state(ctx, junction_id)


@router.put("/{junction_id}/strategy", response_model=StrategyOut)
def put_strategy(
    body: StrategyIn,
    junction_id: str = _JunctionId,
    principal: Principal = Depends(_plans),
    ctx: ServiceContext = Depends(get_context),
) -> StrategyOut:
    """Run the junction under another normal strategy from the next tick (operators)."""
    return usecases.switch_strategy(ctx, principal, junction_id, body)
