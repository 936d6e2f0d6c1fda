"""``/junctions``: the signalised junctions of the network and their intersection models."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from clearway.service import usecases
from clearway.service.auth import Permission, Principal, require
from clearway.service.context import ServiceContext, get_context
from clearway.service.schemas import JunctionModel, JunctionSummary

router = APIRouter(prefix="/junctions", tags=["junctions"])
_read = require(Permission.READ)


@router.get("", response_model=list[JunctionSummary])
def list_junctions(
    _p: Principal = Depends(_read), ctx: ServiceContext = Depends(get_context)
) -> list[JunctionSummary]:
    """Every signalised junction, keyed by its traffic-light id."""
    return usecases.list_junctions(ctx)


@router.get("/{junction_id}", response_model=JunctionModel)
def get_junction(
    junction_id: str = Path(max_length=256, description="traffic-light id or junction id"),
    _p: Principal = Depends(_read),
    ctx: ServiceContext = Depends(get_context),
) -> JunctionModel:
    """Links, conflicts, safety timings (s) and signal programs of one junction."""
    return usecases.junction_model(ctx, junction_id)
