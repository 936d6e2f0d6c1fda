"""``GET /metrics``: Prometheus text exposition (no credential: scrapers run unauthenticated
inside the operations network; it holds counts, never ids or secrets)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from clearway.service.context import ServiceContext, get_context
from clearway.service.metrics import CONTENT_TYPE_LATEST

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
def metrics(ctx: ServiceContext = Depends(get_context)) -> Response:
    """Request counts and latencies per route, authentication failures."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
