"""The FastAPI app factory: settings checked, database opened, routers mounted, errors mapped.

Errors are answered as ``{"detail": ..., "error": ..., "fields": [...]}``: a
:class:`~clearway.errors.ClearwayError` by its class (unknown id 404, bad credential 401,
role 403, conflict 409, impossible route 422, too large 413, no network 503, any other 400), a request that does
not validate as 422 naming each field. Bad input never reaches a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

import clearway
from clearway.errors import (
    ClearwayError,
    ConfigError,
)
from clearway.network import Network
from clearway.service.context import ServiceContext
from clearway.service.fast_positions import PositionFastPath, position_route
from clearway.service.http_errors import (
    ERROR_RESPONSES,
    body,
    clearway_error_response,
    database_error_response,
)
from clearway.service.middleware import BodyLimitMiddleware, MetricsMiddleware
from clearway.service.rate_limit import RateLimiter
from clearway.service.routers import (
    audit,
    convoys,
    dashboard,
    feed,
    health,
    junctions,
    metrics,
    priority,
    public,
    tokens,
    transit,
    transparency,
    users,
)
from clearway.service.settings import ServiceSettings
from clearway.signals.build import build_intersections
from clearway.storage.audit import AuditLog
from clearway.storage.db import make_engine, session_factory
from clearway.storage.migrate import require_current

if TYPE_CHECKING:
    from clearway.service.runtime import ServiceRuntime

def create_app(
    settings: ServiceSettings | None = None,
    *,
    network: Network | None = None,
    engine: Engine | None = None,
    runtime: ServiceRuntime | None = None,
) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings
        Defaults to the environment (``CLEARWAY_*``).
    network
        The network whose junctions are served; default: ``settings.net_file`` if set.
    engine
        An open database engine; default: one for ``settings.db_url``.
    runtime
        The live twin and control loop behind ``/priority-requests``; started and stopped
        with the app's lifespan. Its network is the one served (``network`` must be unset).

    Raises
    ------
    ConfigError
        Missing, short or default token secret outside dev mode.
    StorageError
        The database cannot be reached or is not migrated (``clearway db upgrade``).
    """
    settings = (settings or ServiceSettings()).check_secrets()
    if engine is None:
        engine = make_engine(settings.db_url)
    require_current(engine)
    if runtime is not None:
        if network is not None and network is not runtime.net:
            raise ConfigError("pass either network= or runtime= to create_app, not both")
        network = runtime.net
    if network is None and settings.net_file is not None:
        from clearway.network import load_network

        network = load_network(settings.net_file)
    sessions = session_factory(engine)
    ctx = ServiceContext(
        settings=settings,
        engine=engine,
        sessions=sessions,
        audit=AuditLog(sessions),
        network=network,
        intersections=build_intersections(network) if network is not None else {},
        runtime=runtime,
        limiter=RateLimiter(
            {
                "positions": settings.rate_positions_per_s,
                "writes": settings.rate_writes_per_s,
                "reads": settings.rate_reads_per_s,
                "public": settings.rate_public_per_s,
            },
            burst_s=settings.rate_burst_s,
        ),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            runtime.start(sessions)
        try:
            yield
        finally:
            if runtime is not None:
                runtime.stop()
            if ctx.replays is not None:
                ctx.replays.close()

    app = FastAPI(
        title="clearway",
        version=clearway.__version__,
        description="Emergency-vehicle signal priority and adaptive signal control.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        lifespan=lifespan,
        responses={
            code: {"model": _error_schema(), "description": why}
            for code, why in ERROR_RESPONSES.items()
        },
    )
    app.state.clearway = ctx
    for module in (
        health,
        metrics,
        tokens,
        junctions,
        priority,
        convoys,
        feed,
        audit,
        users,
        dashboard,
        transparency,
        public,
        transit,
    ):
        app.include_router(module.router)
    app.include_router(priority.batch_router)
    _add_error_handlers(app)
    # Added first = innermost of the three: it sees a body the limit has let through, and
    # the metrics count its answers under the route's template.
    app.add_middleware(PositionFastPath, ctx=ctx, route=position_route(priority.router))
    # Added last = outermost: the body limit refuses before anything else reads the body,
    # and the metrics count the 413s too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=ctx.metrics)
    return app


def _error_schema() -> Any:
    from clearway.service.schemas import ErrorOut

    return ErrorOut


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ClearwayError)
    async def clearway_error(_request: Request, exc: ClearwayError) -> JSONResponse:
        return clearway_error_response(exc)

    @app.exception_handler(SQLAlchemyError)
    async def database_error(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        return database_error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own refusals (an unparsable body, an unknown route) in the same shape.
        return JSONResponse(
            body(str(exc.detail), "HTTPException"),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            msg = err.get("msg", "")
            reason = (err.get("ctx") or {}).get("error")
            if err.get("type") == "json_invalid" and reason:
                msg = f"{msg}: {reason} (at character {loc.rsplit('.', 1)[-1]})"
            fields.append({"field": loc, "message": msg, "type": err.get("type")})
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "invalid request"
        return JSONResponse(
            body(f"request does not validate: {summary}", "RequestValidationError", fields),
            status_code=422,
        )
