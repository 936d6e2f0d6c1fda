"""``GET /health``: liveness, whether the database answers and, on field controllers, each
junction's field status (no credential needed)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

import clearway
from clearway.service.clock import iso_utc
from clearway.service.context import ServiceContext, get_context
from clearway.service.schemas import HealthOut, Schema

router = APIRouter(tags=["health"])


class FieldJunctionOut(Schema):
    """One field junction's status."""

    controller: str = Field(description="its controller's host:port")
    status: Literal["ok", "degraded"] = Field(
        description="degraded: not commanded, its controller runs its own program"
    )
    reason: str | None = Field(None, description="why it is degraded")
    since: str = Field(description="in this status since (UTC, RFC 3339)")


class SiteHealthOut(HealthOut):
    field: dict[str, FieldJunctionOut] = Field(
        default_factory=dict,
        description="per junction (traffic-light id), when the service drives field controllers",
    )


@router.get("/health", response_model=SiteHealthOut)
def health(ctx: ServiceContext = Depends(get_context)) -> SiteHealthOut:
    """``ok`` when the database answers and every field junction is ok; ``degraded`` (still
    200) when not, so a load balancer keeps the read-only routes that need no database
    reachable."""
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
    field: dict[str, FieldJunctionOut] = {}
    if ctx.runtime is not None:
        rt = ctx.runtime
        runtime, error, recoveries = rt.status(), rt.error, rt.recoveries
        backlog = rt.writer.backlog if rt.writer is not None else 0
        if runtime != "running":
            degraded.append(f"live runtime {runtime}" + (f": {error}" if error else ""))
        if backlog:
            degraded.append(f"{backlog} audit write(s) waiting for the database")
        for sid, j in sorted(rt.field_status().items()):
            # Field time is UTC unix seconds.
            field[sid] = FieldJunctionOut(
                controller=j.address, status=j.status, reason=j.reason, since=iso_utc(j.since_s)
            )
            if j.status == "degraded":
                degraded.append(f"junction {sid} ({j.address}) degraded: {j.reason}")
    return SiteHealthOut(
        status="degraded" if degraded else "ok",
        database=db_ok,
        network_loaded=ctx.network is not None,
        version=clearway.__version__,
        runtime=runtime,
        runtime_error=error,
        runtime_recoveries=recoveries,
        audit_backlog=backlog,
        degraded=degraded,
        field=field,
    )
