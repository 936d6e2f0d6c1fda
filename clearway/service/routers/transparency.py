"""``/public/report``: the public transparency report — no credential, aggregates only.

* ``GET /public/report?month=YYYY-MM`` (or ``day=YYYY-MM-DD``; default this month, UTC): the
  report as JSON with the audit chain's head, signed (see
  :mod:`clearway.storage.public_report` for each figure and the k floor); rate-limited per
  client address like the alert feed.
* ``GET /public/key``: the Ed25519 public key that checks the heads (``null`` when unset).
* ``GET /public/transparency``: a page that shows the report (linked from the dashboard).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from clearway.service.context import ServiceContext, get_context
from clearway.service.routers.dashboard import _HEADERS, ASSETS
from clearway.service.usecases import transparency

router = APIRouter(prefix="/public", tags=["public"])
#: Browsers and proxies may keep a report as long as the service caches it.
_CACHE = {"Cache-Control": f"public, max-age={int(transparency.CACHE_S)}"}


@router.get("/report")
def public_report(
    request: Request,
    month: str | None = Query(None, max_length=7, description="YYYY-MM (UTC)"),
    day: str | None = Query(None, max_length=10, description="YYYY-MM-DD (UTC)"),
    k: int | None = Query(None, ge=5, le=1000, description="suppression floor (>= 5)"),
    ctx: ServiceContext = Depends(get_context),
) -> Any:
    """Aggregates of a month or day; cells from fewer than k requests are null.

    Rate-limited per client address (``CLEARWAY_RATE_PUBLIC_PER_S``, shared with the alert
    feed): 429 with ``Retry-After`` beyond it."""
    ctx.limiter.take("addr:" + (request.client.host if request.client else "unknown"), "public")
    report = transparency.public_report(ctx, month=month, day=day, k=k)
    return JSONResponse(report, headers=_CACHE)


@router.get("/key")
def public_key(ctx: ServiceContext = Depends(get_context)) -> Any:
    """The Ed25519 public key of the published audit heads."""
    return JSONResponse(transparency.public_key(ctx), headers=_CACHE)


@router.get("/transparency", include_in_schema=False)
def transparency_page() -> Response:
    """The report as a page (its script fetches ``/public/report``)."""
    return FileResponse(
        ASSETS / "transparency.html", media_type="text/html; charset=utf-8", headers=_HEADERS
    )
