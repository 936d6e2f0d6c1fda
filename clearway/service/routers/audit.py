"""``/audit``: query the hash-chained audit log, verify the chain, and read what it says was
done for one request (operator, admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import FileResponse

from clearway.service import usecases
from clearway.service.auth import Permission, Principal, require
from clearway.service.context import ServiceContext, get_context
from clearway.service.routers.priority import RequestId
from clearway.service.schemas import MAX_SEQ, AuditPageOut, AuditVerifyOut
from clearway.storage.audit import MAX_PAGE

router = APIRouter(prefix="/audit", tags=["audit"])
_read_audit = require(Permission.READ_AUDIT)


@router.get("", response_model=AuditPageOut)
def query_audit(
    since: datetime | None = Query(None, description="from this time on (inclusive, ISO 8601)"),
    until: datetime | None = Query(None, description="before this time (exclusive, ISO 8601)"),
    kind: str | None = Query(None, max_length=64, description="e.g. auth.failed, admin"),
    principal: str | None = Query(None, max_length=128),
    junction_id: str | None = Query(None, max_length=256),
    request_id: str | None = Query(None, max_length=128),
    after_seq: int = Query(0, ge=0, le=MAX_SEQ, description="records after this seq (paging)"),
    limit: int = Query(100, ge=1, le=MAX_PAGE, description="records per page"),
    _p: Principal = Depends(_read_audit),
    ctx: ServiceContext = Depends(get_context),
) -> AuditPageOut:
    """Records matching every filter given, oldest first."""
    return usecases.query_audit(
        ctx, since=since, until=until, kind=kind, principal=principal,
        junction_id=junction_id, request_id=request_id, after_seq=after_seq, limit=limit,
    )  # fmt: skip


@router.get("/verify", response_model=AuditVerifyOut)
def verify_audit(
    _p: Principal = Depends(_read_audit), ctx: ServiceContext = Depends(get_context)
) -> AuditVerifyOut:
    """Walk the whole chain; ``ok`` false names the first broken record."""
    return usecases.verify_audit(ctx)


@router.get("/requests/{request_id}")
def request_log(
    request_id: str = RequestId,
    _p: Principal = Depends(_read_audit),
    ctx: ServiceContext = Depends(get_context),
) -> dict[str, Any]:
    """What the verified log says the corridor did for a request: lifecycle events, first
    decision, holds per junction (start, end, commands), advice, the run it was made on.
    Rebuilt from the log alone (it holds no positions); ``clearway replay`` re-runs it."""
    return usecases.incident_log(ctx, request_id)


@router.post(
    "/requests/{request_id}/replay",
    status_code=202,
    responses={200: {"description": "a re-run of the request is already queued or running"}},
)
def start_replay(
    response: Response,
    request_id: str = RequestId,
    p: Principal = Depends(_read_audit),
    ctx: ServiceContext = Depends(get_context),
) -> dict[str, Any]:
    """Re-run the request's logged demand under none, local and corridor, in the background
    (one re-run at a time): 202 with the job; poll ``GET …/replay``. One already queued or
    running for the request is answered as it is (200). Audited (``audit.replay``)."""
    job, started = usecases.start_replay(ctx, p, request_id)
    if not started:
        response.status_code = 200
    return job


@router.get("/requests/{request_id}/replay")
def replay_status(
    request_id: str = RequestId,
    _p: Principal = Depends(_read_audit),
    ctx: ServiceContext = Depends(get_context),
) -> dict[str, Any]:
    """The request's latest re-run: ``queued``, ``running``, ``done`` (its report: the log's
    holds beside the re-run's, and per strategy the ratio, stops and others' delay) or
    ``failed`` (why)."""
    return usecases.replay_status(ctx, request_id)


@router.get("/requests/{request_id}/replay/figure", response_class=FileResponse)
def replay_figure(
    request_id: str = RequestId,
    _p: Principal = Depends(_read_audit),
    ctx: ServiceContext = Depends(get_context),
) -> FileResponse:
    """The finished re-run's time–space diagram (PNG)."""
    return FileResponse(usecases.replay_figure(ctx, request_id), media_type="image/png")
