"""``/feed``: a WebSocket live feed of signal states, priority vehicles and request statuses.

Protocol (JSON text messages):

1. Authenticate with the handshake's ``X-API-Key`` or ``Authorization: Bearer`` header, or —
   browsers cannot set headers on a WebSocket — with a first message
   ``{"type": "auth", "key": "..."}`` or ``{"type": "auth", "token": "..."}`` within
   :data:`AUTH_TIMEOUT_S`. A bad credential closes the socket with code 4401 (audited).
2. The server sends ``{"type": "hello", "principal", "role"}``, then ``{"type": "snapshot",
   ...}`` (everything: see :func:`~clearway.service.live_view.feed_snapshot`), then
   ``{"type": "update", ...}`` with what changed, at most every ``feed_interval_s``.
3. The client may send ``{"type": "ping"}`` (answered ``{"type": "pong"}``). The credential
   is checked again every :data:`RECHECK_S`: a revoked key or an expired token closes the
   socket with 4401.

Any role may read the feed. A slow client gets fewer, larger updates, never a backlog: each
update is the difference between the last view it was sent and the newest one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from clearway.errors import ClearwayError, CredentialError
from clearway.service.auth import (
    API_KEY_HEADER,
    Principal,
    principal_from_api_key,
    principal_from_token,
)
from clearway.service.context import ServiceContext
from clearway.service.live_view import feed_snapshot, feed_update
from clearway.storage.audit import AuditKind

router = APIRouter(tags=["feed"])

#: Time a client has to send its credential after connecting (s).
AUTH_TIMEOUT_S = 10.0
#: How often the credential of an open feed is checked again (s).
RECHECK_S = 30.0
#: WebSocket close codes: bad credential, no live runtime.
CLOSE_UNAUTHORIZED = 4401
CLOSE_UNAVAILABLE = 4503


def _principal(ctx: ServiceContext, key: str | None, token: str | None) -> Principal:
    if key and token:
        raise CredentialError("send one credential, either a key or a token")
    if token:
        return principal_from_token(ctx, token)
    if key:
        return principal_from_api_key(ctx, key)
    raise CredentialError(
        f"no credential; send {API_KEY_HEADER} or Authorization: Bearer on the handshake, or "
        'a first message {"type": "auth", "key": ...} or {"type": "auth", "token": ...}'
    )


def _from_headers(ws: WebSocket) -> tuple[str | None, str | None]:
    key = ws.headers.get(API_KEY_HEADER.lower())
    auth = ws.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    return key, token


async def _first_message(ws: WebSocket) -> tuple[str | None, str | None]:
    try:
        raw = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S)
        msg = json.loads(raw)
    except TimeoutError:
        raise CredentialError(f"no credential within {AUTH_TIMEOUT_S:.0f} s") from None
    except (ValueError, KeyError) as exc:
        raise CredentialError(f"the first message must be JSON auth: {exc}") from None
    if not isinstance(msg, dict) or msg.get("type") != "auth":
        raise CredentialError('the first message must be {"type": "auth", "key" or "token"}')
    key, token = msg.get("key"), msg.get("token")
    if not isinstance(key, str | None) or not isinstance(token, str | None):
        raise CredentialError("auth: key and token must be strings")
    return key, token


async def _refuse(ws: WebSocket, ctx: ServiceContext, reason: str) -> None:
    ctx.metrics.auth_failures.labels("401").inc()
    payload: dict[str, Any] = {
        "route": "/feed",
        "method": "WEBSOCKET",
        "status": 401,
        "reason": reason,
        "remote": ws.client.host if ws.client else None,
    }
    # An unwritable audit must not keep the socket open.
    with contextlib.suppress(Exception):
        await run_in_threadpool(ctx.audit.append, AuditKind.AUTH_FAILED, payload=payload)
    if ws.application_state is WebSocketState.CONNECTED:
        await ws.send_json({"type": "error", "error": "CredentialError", "detail": reason})
        await ws.close(code=CLOSE_UNAUTHORIZED, reason=reason[:120])


@router.websocket("/feed")
async def feed(ws: WebSocket) -> None:
    """The live feed (see the module docstring for the protocol)."""
    ctx: ServiceContext = ws.app.state.clearway
    await ws.accept()
    try:
        key, token = _from_headers(ws)
        if not key and not token:
            key, token = await _first_message(ws)
        principal = await run_in_threadpool(_principal, ctx, key, token)
    except WebSocketDisconnect:
        return
    except ClearwayError as exc:
        await _refuse(ws, ctx, str(exc))
        return
    runtime = ctx.runtime
    if runtime is None:
        await ws.send_json({"type": "error", "error": "ServiceUnavailableError",
                            "detail": "the service runs without a live runtime"})  # fmt: skip
        await ws.close(code=CLOSE_UNAVAILABLE)
        return
    try:
        await ws.send_json({"type": "hello", "principal": principal.name, "role": principal.role})
        last = runtime.view()
        await ws.send_json(feed_snapshot(last))
        checked = time.monotonic()
        while True:
            try:
                raw = await asyncio.wait_for(ws.receive_text(), ctx.settings.feed_interval_s)
                if raw.strip() == '{"type": "ping"}' or '"ping"' in raw:
                    await ws.send_json({"type": "pong", "version": last.version})
            except TimeoutError:
                pass
            if time.monotonic() - checked > RECHECK_S:
                try:
                    await run_in_threadpool(_principal, ctx, key, token)
                except ClearwayError as exc:
                    await _refuse(ws, ctx, str(exc))
                    return
                checked = time.monotonic()
            now = runtime.view()
            msg = feed_update(last, now)
            if msg is not None:
                await ws.send_json(msg)
                last = now
    except WebSocketDisconnect:
        return
