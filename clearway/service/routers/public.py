"""``/public/alerts``: the streets being cleared now and in the next minutes, for drivers and
navigation apps — no credential, cacheable, rate-limited per client address.

* ``GET /public/alerts``: a GeoJSON FeatureCollection (``application/geo+json``), one feature
  per junction or edge with its hold window (``from``/``to``, UTC RFC 3339), direction, reason
  class and a short message; see :mod:`clearway.service.public_alerts` for what it holds and
  what it never holds. ``ETag`` + ``If-None-Match`` answer 304; ``Cache-Control: public,
  max-age=`` :data:`MAX_AGE_S`.
* ``GET /public/alerts/stream``: the same collection as Server-Sent Events (``event:
  alerts``, ``id:`` its ETag) at once and whenever it changes, a ``: keep-alive`` comment
  every ``public_keepalive_s``; the server ends the stream after ``public_stream_max_s``
  (``retry:`` tells the browser's ``EventSource`` to reconnect), so no connection is held
  forever.

Every request and every stream opened costs one token of the client address's bucket
(``rate_public_per_s``); beyond it 429 with ``Retry-After``. At most
``public_streams_per_client`` streams per address are open at once. The address is the
connection's peer: a proxy in front must pass the client's own (uvicorn
``--proxy-headers`` with ``--forwarded-allow-ips``), or all its clients share one bucket.
Refusals are not audited: an anonymous flood must not fill the audit log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response, StreamingResponse

from clearway.errors import ServiceUnavailableError
from clearway.service.alert_publisher import PublishedAlerts
from clearway.service.context import ServiceContext, get_context
from clearway.service.rate_limit import RateLimitedError

router = APIRouter(prefix="/public", tags=["public"])

#: Clients may reuse an answer this long (s).
MAX_AGE_S = 2
MEDIA_TYPE = "application/geo+json"
_GEOJSON: dict[str, Any] = {
    200: {
        "description": "the alerts: a GeoJSON FeatureCollection (RFC 7946)",
        "content": {MEDIA_TYPE: {"schema": {"type": "object"}}},
    },
    304: {"description": "not modified since the ETag sent in If-None-Match"},
}


def _client(request: Request) -> str:
    return "addr:" + (request.client.host if request.client else "unknown")


def _current(ctx: ServiceContext) -> PublishedAlerts:
    runtime = ctx.require_runtime()
    return ctx.public_alerts.current(runtime.view(), runtime.net, ctx.traffic_clock())


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


@router.get("/alerts", response_class=Response, responses=_GEOJSON)
def public_alerts(
    request: Request,
    if_none_match: str | None = Header(None, max_length=1024),
    ctx: ServiceContext = Depends(get_context),
) -> Response:
    """Streets and junctions cleared now and in the next minutes, as GeoJSON (no credential).

    Each feature: ``kind`` (junction or edge) and its ids, ``from``/``to`` (UTC), direction
    (``from_edge``/``to_edge`` or ``from_junction``/``to_junction``, ``bearing_deg``),
    ``reason`` (emergency, convoy, transit) and ``message``. Never a vehicle, request or
    incident id, nor a vehicle's position."""
    ctx.limiter.take(_client(request), "public")
    pub = _current(ctx)
    headers = {
        "ETag": pub.etag,
        "Cache-Control": f"public, max-age={MAX_AGE_S}",
        "Access-Control-Allow-Origin": "*",
    }
    if _matches(if_none_match, pub.etag):
        return Response(status_code=304, headers=headers)
    return Response(pub.body, media_type=MEDIA_TYPE, headers=headers)


def _event(pub: PublishedAlerts) -> bytes:
    return b"event: alerts\nid: " + pub.etag.encode() + b"\ndata: " + pub.body + b"\n\n"


@router.get("/alerts/stream", include_in_schema=False)
async def public_alerts_stream(
    request: Request, ctx: ServiceContext = Depends(get_context)
) -> StreamingResponse:
    """The alerts as Server-Sent Events (see the module docstring)."""
    client = _client(request)
    ctx.limiter.take(client, "public")
    first = _current(ctx)  # 503 now, not inside the stream
    cap = ctx.settings.public_streams_per_client
    if ctx.public_alerts.streams_of(client) >= cap:
        raise RateLimitedError(
            f"{cap} alert stream(s) already open from this address; close one, or poll "
            "GET /public/alerts",
            ctx.settings.public_keepalive_s,
        )
    settings = ctx.settings

    async def events() -> AsyncIterator[bytes]:
        # Counted once it runs: a stream that never starts never ends either.
        if not ctx.public_alerts.open_stream(client, cap):
            return
        try:
            yield b"retry: 2000\n\n" + _event(first)
            sent, beat = first.etag, time.monotonic()
            end = beat + settings.public_stream_max_s
            while time.monotonic() < end:
                await asyncio.sleep(settings.feed_interval_s)
                if await request.is_disconnected():
                    return
                try:
                    pub = _current(ctx)
                except ServiceUnavailableError:
                    return  # the runtime went away: the client reconnects later
                if pub.etag != sent:
                    yield _event(pub)
                    sent, beat = pub.etag, time.monotonic()
                elif time.monotonic() - beat >= settings.public_keepalive_s:
                    yield b": keep-alive\n\n"
                    beat = time.monotonic()
        finally:
            ctx.public_alerts.close_stream(client)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            "Access-Control-Allow-Origin": "*",
        },
    )
