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
    degraded = [] if db_ok else [
        "database unavailable: requests, positions and user changes are refused (503); the "
        "signals keep running and their audit records are kept until it is back"
    ]  # fmt: skip
    runtime, error, recoveries, backlog = "none", None, 0, 0
    if ctx.runtime is not None:
        rt = ctx.runtime
        runtime, error, recoveries = rt.status(), rt.error, rt.recoveries
        backlog = rt.writer.backlog if rt.writer is not None else 0
        if runtime != "running":
            degraded.append(f"live runtime {runtime}" + (f": {error}" if error else ""))
        if backlog:
            degraded.append(f"{backlog} audit write(s) waiting for the database")
    return HealthOut(
        status="degraded" if degraded else "ok",
        database=db_ok,
        network_loaded=ctx.network is not None,
        version=clearway.__version__,
        runtime=runtime,
        runtime_error=error,
        runtime_recoveries=recoveries,
        audit_backlog=backlog,
        degraded=degraded,
    )
