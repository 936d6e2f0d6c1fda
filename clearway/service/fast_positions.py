"""The hot route without the framework: ``POST /priority-requests/{id}/positions`` answered
straight from ASGI when nothing about the call needs FastAPI.

A dispatch system sends a vehicle's position several times a second, one call each. Profiled
under load (py-spy on ``clearway serve``), FastAPI's per-call work that does not depend on
the call — matching the path against every route, solving the dependency graph, building a
request object, serialising through the response model — was about 70 % of the event
loop's time per update, the route's own work about 10 %. This middleware does that route's
work itself, with the very same functions, for the common call:

- a bearer token or an API key (exactly one) that the credential cache holds (checked
  within :data:`~clearway.service.credential_cache.TTL_S`), of a role that may request
  priority and whose key does not sign its changes;
- a JSON body that :class:`~clearway.service.schemas.PositionIn` validates, with a JSON
  content type.

Anything else — no or an unknown credential, a signing key, a body that does not validate,
a path id of another shape — is handed to the FastAPI route unchanged (its body replayed),
which answers it (401, 403, 422 ... audited as ever) and caches the credential it checked.
From there on the fast path answers everything itself, as the route would: a spent rate
limit is a 429 counted in the metrics and, the first in a minute, audited
(``auth.throttled``); a refused update gets the same status and body
(:mod:`~clearway.service.http_errors`). The route stays registered: OpenAPI documents it, and it is
the fallback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from clearway.errors import ClearwayError, ConfigError
from clearway.service.auth import Permission, Principal, audit_throttled
from clearway.service.context import ServiceContext
from clearway.service.http_errors import clearway_error_response, database_error_response
from clearway.service.rate_limit import RateLimitedError
from clearway.service.schemas import PositionAccepted, PositionIn
from clearway.service.usecases.priority import add_position

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The route's template, as the router and the metrics name it.
ROUTE_PATH = "/priority-requests/{request_id}/positions"
_PATH = re.compile(r"^/priority-requests/(pr-[0-9a-f]{16})/positions$")
_JSON_TYPES = (b"application/json",)


def position_route(router: APIRouter) -> APIRoute:
    """The router's ``POST`` position route (the fallback, and its name in the metrics)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == ROUTE_PATH and "POST" in route.methods:
            return route
    raise ConfigError(f"the router has no POST {ROUTE_PATH} route to speed up")


class PositionFastPath:
    """ASGI middleware: single position updates answered without FastAPI's routing.

    Parameters
    ----------
    app
        The rest of the app (FastAPI's router behind its exception middleware).
    ctx
        The service context the route would get.
    route
        The route: set as ``scope["route"]`` of a call answered here, for the metrics.
    """

    def __init__(self, app: ASGIApp, ctx: ServiceContext, route: APIRoute) -> None:
        self.app = app
        self.ctx = ctx
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        m = _PATH.match(scope["path"])
        if m is None:
            await self.app(scope, receive, send)
            return
        raw, more = await _read_body(receive)
        principal = self._cached_principal(scope)
        update = _valid_update(scope, raw) if principal is not None else None
        if principal is None or update is None:
            await self.app(scope, _replay(raw, more, receive), send)
            return
        scope["route"] = self.route
        try:
            self.ctx.limiter.take(principal.name, "positions")
        except RateLimitedError as exc:
            # As the route's dependency refuses: counted, the first in a minute audited.
            self.ctx.metrics.auth_failures.labels("429").inc()
            if getattr(exc, "audit", False):
                await run_in_threadpool(audit_throttled, self.ctx, Request(scope), exc, principal)
            await clearway_error_response(exc)(scope, receive, send)
            return
        try:
            accepted = await add_position(self.ctx, principal, m.group(1), update)
        except ClearwayError as exc:
            await clearway_error_response(exc)(scope, receive, send)
            return
        except SQLAlchemyError as exc:
            await database_error_response(exc)(scope, receive, send)
            return
        await _send_json(send, 201, _answer(accepted))

    def _cached_principal(self, scope: Scope) -> Principal | None:
        """The caller, if its one credential was checked within the cache's TTL and its
        role may send positions without signing them; else ``None`` (the route decides)."""
        bearer = api_key = None
        for name, value in scope["headers"]:
            if name == b"authorization" and bearer is None:
                bearer = value
            elif name == b"x-api-key" and api_key is None:
                api_key = value
        if bearer is not None and api_key is not None:
            return None
        if bearer is not None:
            scheme, _, token = bearer.decode("latin-1").partition(" ")
            credential = token.strip() if scheme.lower() == "bearer" else ""
        elif api_key is not None:
            credential = api_key.decode("latin-1")
        else:
            return None
        if not credential:
            return None
        principal = self.ctx.credentials.get(credential)
        if principal is None or not principal.may(Permission.REQUEST_PRIORITY):
            return None
        return None if principal.signed else principal


def _valid_update(scope: Scope, raw: bytes | None) -> PositionIn | None:
    if raw is None:
        return None
    ctype = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
    if ctype.split(b";", 1)[0].strip().lower() not in _JSON_TYPES:
        return None
    try:
        # As FastAPI validates a body: parsed JSON, validated in Python mode.
        return PositionIn.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        return None


def _answer(accepted: PositionAccepted) -> bytes:
    return accepted.__pydantic_serializer__.to_json(accepted, by_alias=True)


async def _read_body(receive: Receive) -> tuple[bytes | None, Message | None]:
    """The whole body, or (None, the message that was not a body part) on a disconnect."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None, message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(raw: bytes | None, other: Message | None, receive: Receive) -> Receive:
    """``receive`` for the route: the body read here first, then the connection's own."""
    pending: list[Message] = [
        other
        if other is not None
        else {"type": "http.request", "body": raw or b"", "more_body": False}
    ]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _send_json(send: Send, status: int, raw: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(raw)).encode()),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})
