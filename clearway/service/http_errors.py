"""Which HTTP status a :class:`~clearway.errors.ClearwayError` is answered with, the
answers themselves, and the error statuses every route documents (one place for the app,
the batch routes and the position fast path)."""

from __future__ import annotations

import math
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from clearway.control.priority.booking_windows import BookingWindowError
from clearway.errors import (
    ClearwayError,
    ConflictError,
    CredentialError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RouteError,
    ServiceUnavailableError,
    StorageError,
    UnknownIdError,
)
from clearway.service.places import ClocklessError, NoGeoReferenceError
from clearway.service.rate_limit import RateLimitedError

#: Status per error class; the first match in this order wins (subclasses before bases).
_STATUS: tuple[tuple[type[ClearwayError], int], ...] = (
    (CredentialError, 401),
    (PermissionDeniedError, 403),
    (UnknownIdError, 404),
    (ConflictError, 409),
    (RouteError, 422),
    (NoGeoReferenceError, 422),
    (ClocklessError, 422),
    (BookingWindowError, 422),
    (PayloadTooLargeError, 413),
    (RateLimitedError, 429),
    (ServiceUnavailableError, 503),
    (StorageError, 503),
)


#: Error statuses every route may answer (documented in the OpenAPI schema), all ``ErrorOut``.
ERROR_RESPONSES = {
    400: "malformed request (e.g. a body that is not JSON)",
    401: "missing, bad or expired credential",
    403: "the caller's role may not do this",
    404: "unknown junction, edge, request, user or key",
    409: "conflicts with the current state (stale, out-of-order, too old or future position; "
    "finished request; name taken; a convoy booking clashing with another)",
    413: "body too large",
    429: "too many requests from this principal (per-principal rate limit); see Retry-After",
    422: "request does not validate, no drivable route, coordinates no lane is near, or "
    "coordinates on a network without geo-reference, a convoy window that cannot be booked",
    503: "the live runtime or the database is not available",
}


def status_of(exc: ClearwayError) -> int:
    """The HTTP status a :class:`ClearwayError` is answered with."""
    return next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)


def body(detail: str, error: str, fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The error answer's JSON: ``{"detail", "error", "fields"}``."""
    return {"detail": detail, "error": error, "fields": fields or []}


def clearway_error_response(exc: ClearwayError) -> JSONResponse:
    """The answer to a :class:`~clearway.errors.ClearwayError`: its status by class, and the
    ``WWW-Authenticate`` (401) or ``Retry-After`` (429) header."""
    status = status_of(exc)
    headers = (
        {"WWW-Authenticate": 'Bearer, ApiKey header="X-API-Key"'} if status == 401 else None
    )
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    return JSONResponse(body(str(exc), type(exc).__name__), status_code=status, headers=headers)


def database_error_response(exc: SQLAlchemyError) -> JSONResponse:
    """The answer when the database failed under a request: 503, nothing changed."""
    # Whatever route met it: the database is away, not the request wrong. Nothing was
    # changed (the transaction is rolled back); say so instead of a 500.
    return JSONResponse(
        body(
            f"the database is not available ({type(exc).__name__}); nothing was changed, "
            "try again shortly",
            "StorageError",
        ),
        status_code=503,
        headers={"Retry-After": "1"},
    )
