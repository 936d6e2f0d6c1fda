"""Who is calling, and may they: principals from API keys or bearer tokens, and permissions.

Credentials: ``X-API-Key: cwk_...`` (checked against its salted hash in the database) or
``Authorization: Bearer <token>`` (see :mod:`clearway.service.tokens`). A token is also
checked against the database: it names the API key it was exchanged for, and a revoked key
(or a user whose role changed) invalidates its tokens before they expire. A checked
credential is trusted for a few seconds (:mod:`clearway.service.credential_cache`); revoking
a key through the API drops it at once.

Permissions are listed per role explicitly rather than derived from a rank: a dispatcher
may request priority, but an admin who manages users is not thereby a dispatcher.

Every refusal (401 and 403) is appended to the audit log as ``auth.failed`` with the route,
the reason and the key id if one was sent; never the key or token itself.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from clearway.errors import AuthError, CredentialError, PermissionDeniedError, StorageError
from clearway.service.context import ServiceContext, get_context
from clearway.service.rate_limit import RateLimitedError
from clearway.service.signing import signing_secret
from clearway.service.tokens import verify_token
from clearway.storage.audit import AuditKind
from clearway.storage.models import ROLES, ApiKeyRow, UserRow
from clearway.storage.users import authenticate

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
#: Audit kind of a principal's first refused request in a minute (rate limit).
THROTTLED_KIND = "auth.throttled"
_KEY_ID = re.compile(r"^cwk_([0-9a-f]{8})_")

api_key_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey")
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="BearerToken")


class Permission(StrEnum):
    """What a route may require."""

    READ = "read"  # network, junctions, signal states, request status
    REQUEST_PRIORITY = "priority.request"  # create/update/cancel one's own requests
    CANCEL_ANY_REQUEST = "priority.cancel_any"
    CHANGE_PLANS = "plans.change"  # plans and strategy per junction
    READ_AUDIT = "audit.read"
    MANAGE_USERS = "users.manage"  # users and API keys
    FEED_TRANSIT = "transit.feed"  # bus positions / GTFS-rt: extension or early green only


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.READ}),
    "dispatcher": frozenset(
        {Permission.READ, Permission.REQUEST_PRIORITY, Permission.FEED_TRANSIT}
    ),
    "operator": frozenset(
        {
            Permission.READ,
            Permission.REQUEST_PRIORITY,
            Permission.CANCEL_ANY_REQUEST,
            Permission.CHANGE_PLANS,
            Permission.READ_AUDIT,
            Permission.FEED_TRANSIT,
        }
    ),
    "admin": frozenset({Permission.READ, Permission.READ_AUDIT, Permission.MANAGE_USERS}),
    # A transit operator's AVL or GTFS-realtime bridge: it may feed its buses (which can only
    # ever earn a late bus a green extension or an early green) and nothing else, not even
    # read the network or the requests.
    "transit": frozenset({Permission.FEED_TRANSIT}),
}
assert set(ROLE_PERMISSIONS) == set(ROLES), "every stored role needs its permissions"


def roles_with(permission: Permission) -> tuple[str, ...]:
    """The roles granted ``permission``, in the order viewer, dispatcher, operator, admin,
    transit."""
    return tuple(r for r in ROLES if permission in ROLE_PERMISSIONS[r])


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    Attributes
    ----------
    name
        User name (what the audit log records as ``principal``).
    role
        viewer, dispatcher, operator, admin or transit.
    key_id
        The API key used, directly or through the token exchanged for it.
    method
        How the caller authenticated.
    """

    name: str
    role: str
    key_id: str
    method: Literal["api_key", "token"]
    #: Its key must sign its changes (see :mod:`clearway.service.signing`).
    signed: bool = False

    def may(self, permission: Permission) -> bool:
        """Whether this principal's role grants ``permission``."""
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


def route_of(request: Request) -> str:
    """The route template (``/users/{name}/keys``), else the raw path."""
    route = request.scope.get("route")
    return getattr(route, "path", None) or request.url.path


def audit_refusal(
    ctx: ServiceContext,
    request: Request,
    exc: AuthError,
    *,
    principal: str | None = None,
    key_id: str | None = None,
) -> None:
    """Record a refused request (401 or 403) in the audit log and the metrics."""
    status = 403 if isinstance(exc, PermissionDeniedError) else 401
    ctx.metrics.auth_failures.labels(str(status)).inc()
    payload = {
        "route": route_of(request),
        "method": request.method,
        "status": status,
        "reason": str(exc),
        "remote": request.client.host if request.client else None,
    }
    if key_id:
        payload["key_id"] = key_id
    ctx.audit.append(AuditKind.AUTH_FAILED, principal=principal, payload=payload)


def principal_from_api_key(ctx: ServiceContext, key: str) -> Principal:
    """The principal of an API key; :class:`CredentialError` if it is not valid."""
    cached = ctx.credentials.get(key)
    if cached is not None:
        return cached
    with ctx.sessions() as session:
        try:
            found = authenticate(session, key)
        except AuthError as exc:
            raise CredentialError(str(exc)) from None
    principal = Principal(found.user, found.role, found.key_id, "api_key", found.signed)
    ctx.credentials.put(key, principal)
    return principal


def principal_from_token(ctx: ServiceContext, token: str) -> Principal:
    """The principal of a bearer token whose key is still active.

    Raises
    ------
    CredentialError
        Bad or expired token (:class:`~clearway.errors.TokenExpiredError`), or its key was
        revoked since.
    """
    claims = verify_token(ctx.settings.secret_bytes(), token)
    cached = ctx.credentials.get(token)
    if cached is not None:
        return cached
    with ctx.sessions() as session:
        row = session.execute(
            select(UserRow.name, UserRow.role, ApiKeyRow.revoked_at, ApiKeyRow.signed)
            .join(ApiKeyRow, ApiKeyRow.user_id == UserRow.id)
            .where(ApiKeyRow.key_id == claims.kid)
        ).one_or_none()
    if row is None or row.revoked_at is not None or row.name != claims.sub:
        raise CredentialError("the API key behind this bearer token was revoked; ask an admin")
    # The role in the database wins over the one in the token: a demoted user loses rights now.
    principal = Principal(row.name, row.role, claims.kid, "token", bool(row.signed))
    ctx.credentials.put(token, principal, expires_in_s=claims.exp_s - time.time())
    return principal


async def current_principal(
    request: Request,
    api_key: str | None = Security(api_key_scheme),
    bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
    ctx: ServiceContext = Depends(get_context),
) -> Principal:
    """FastAPI dependency: the authenticated caller, or 401 (audited).

    A credential checked within the last seconds is answered on the event loop; only a new
    one goes to a worker thread (database, scrypt).
    """
    key_id = None
    try:
        if api_key and bearer:
            raise CredentialError(
                f"send one credential, either {API_KEY_HEADER} or Authorization: Bearer"
            )
        if bearer is not None:
            cached = ctx.credentials.get(bearer.credentials)
            if cached is not None:
                return cached
            return await run_in_threadpool(principal_from_token, ctx, bearer.credentials)
        if api_key:
            m = _KEY_ID.match(api_key)
            key_id = m.group(1) if m else None
            cached = ctx.credentials.get(api_key)
            if cached is not None:
                return cached
            return await run_in_threadpool(principal_from_api_key, ctx, api_key)
        if request.headers.get("authorization"):
            raise CredentialError("unsupported Authorization scheme; use 'Bearer <token>'")
        raise CredentialError(
            f"no credential; send {API_KEY_HEADER}: <key> or Authorization: Bearer <token> "
            "(POST /auth/token exchanges a key for a token)"
        )
    except CredentialError as exc:
        await run_in_threadpool(_audit_quietly, ctx, request, exc, key_id=key_id)
        raise


_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Permissions whose routes only read: they count against the ``reads`` rate limit.
_READS = frozenset({Permission.READ, Permission.READ_AUDIT})


def require(permission: Permission, *, rate: str | None = None) -> Callable[..., Principal]:
    """FastAPI dependency factory: the caller, if their role grants ``permission`` and their
    rate limit of ``rate`` (``positions``, ``writes``, ``reads``; by default ``reads`` for
    read permissions, else ``writes``) is not spent; 403 (audited) or 429 if not. The
    dependency carries ``.permission`` so tests can enumerate it."""
    kind = rate or ("reads" if permission in _READS else "writes")

    async def dependency(
        request: Request,
        principal: Principal = Depends(current_principal),
        ctx: ServiceContext = Depends(get_context),
    ) -> Principal:
        if principal.may(permission):
            if principal.signed and request.method in _MUTATING:
                await _check_signature(ctx, request, principal)
            try:
                ctx.limiter.take(principal.name, kind)
            except RateLimitedError as exc:
                ctx.metrics.auth_failures.labels("429").inc()
                if getattr(exc, "audit", False):
                    await run_in_threadpool(
                        audit_throttled, ctx, request, exc, principal
                    )
                raise
            return principal
        exc = PermissionDeniedError(
            f"role {principal.role!r} may not do this ({permission.value}); it needs one of "
            f"the roles {', '.join(roles_with(permission))}"
        )
        await run_in_threadpool(
            _audit_quietly, ctx, request, exc, principal=principal.name, key_id=principal.key_id
        )
        raise exc

    dependency.permission = permission  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


async def _check_signature(ctx: ServiceContext, request: Request, principal: Principal) -> None:
    try:
        ctx.signatures.check(
            signing_secret(ctx.settings.secret_bytes(), principal.key_id),
            request.method,
            request.url.path,
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
        )
    except CredentialError as exc:
        await run_in_threadpool(
            _audit_quietly, ctx, request, exc, principal=principal.name, key_id=principal.key_id
        )
        raise


def audit_throttled(
    ctx: ServiceContext, request: Request, exc: RateLimitedError, principal: Principal
) -> None:
    """Record a rate-limited request (``auth.throttled``); a database that cannot take it is
    logged, the 429 stands."""
    try:
        ctx.audit.append(
            THROTTLED_KIND,
            principal=principal.name,
            payload={"route": route_of(request), "method": request.method, "reason": str(exc),
                     "key_id": principal.key_id},
        )  # fmt: skip
    except (StorageError, SQLAlchemyError) as err:
        log.error("could not audit a throttled request to %s: %s", route_of(request), err)


def _audit_quietly(ctx: ServiceContext, request: Request, exc: AuthError, **kw: str | None) -> None:
    # A database that cannot take the audit record must not turn a 401 into a 500 (or into
    # a success): the refusal stands, and the storage error surfaces on the next write.
    try:
        audit_refusal(ctx, request, exc, **kw)
    except (StorageError, SQLAlchemyError) as err:
        log.error("could not audit a refused request to %s: %s", route_of(request), err)
