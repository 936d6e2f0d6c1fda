"""ASGI middleware: a request-body size limit (413) and request metrics.

Both are plain ASGI rather than ``BaseHTTPMiddleware``: the limit must see the body before
any route parses it, and neither should buffer responses.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from clearway.service.metrics import ServiceMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 before the app sees them.

    The declared ``Content-Length`` is checked first; a body sent without one (chunked) is
    read up to the limit and then replayed to the app, so a lying client cannot get more
    than ``max_bytes`` past this point either. Bodies are small JSON documents, so holding
    one in memory is cheap.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await _send_json(send, 400, _error("Content-Length is not a number", "BadRequest"))
                return
            if too_big:
                await self._refuse(send, int(declared))
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # disconnect: let the app see it
                chunks = []
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, size)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, size: int) -> None:
        await _send_json(
            send,
            413,
            _error(
                f"request body of {size} bytes or more is over the limit of {self.max_bytes} "
                "bytes (CLEARWAY_MAX_BODY_BYTES); send less",
                "PayloadTooLargeError",
            ),
        )


def _error(detail: str, error: str) -> dict[str, Any]:
    return {"detail": detail, "error": error, "fields": []}


class MetricsMiddleware:
    """Count every HTTP request by method, route template and status, and time it."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            # Templates, not raw paths: /users/{name}/keys must be one series, not one per name.
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], path, status, time.perf_counter() - start)
