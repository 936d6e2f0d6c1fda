"""``GET /health``: liveness and whether the database answers (no credential needed)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

import clearway
from clearway.service.context import ServiceContext, get_context
from clearway.service.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(ctx: ServiceContext = Depends(get_context)) -> HealthOut:
    """``ok`` when the database answers; ``degraded`` (still 200) when it does not, so a
    load balancer keeps the read-only routes that need no database reachable."""
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db_ok = True
    except SQLAlchemyError:
        db_ok = False
    return HealthOut(
        status="ok" if db_ok else "degraded",
        database=db_ok,
        network_loaded=ctx.network is not None,
        version=clearway.__version__,
    )
