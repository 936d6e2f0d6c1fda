"""``/users`` and ``/keys``: users, roles and API keys (admin only; every change audited)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from clearway.service import usecases
from clearway.service.auth import Permission, Principal, require
from clearway.service.context import ServiceContext, get_context
from clearway.service.schemas import (
    USER_NAME_PATTERN,
    KeyIssued,
    KeyOut,
    SigningOut,
    UserCreate,
    UserCreated,
    UserOut,
)

router = APIRouter(tags=["users"])
_admin = require(Permission.MANAGE_USERS)


@router.get("/users", response_model=list[UserOut])
def list_users(
    _p: Principal = Depends(_admin), ctx: ServiceContext = Depends(get_context)
) -> list[UserOut]:
    """Every user with their key ids (never the keys)."""
    return usecases.list_users(ctx)


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(
    body: UserCreate,
    principal: Principal = Depends(_admin),
    ctx: ServiceContext = Depends(get_context),
) -> UserCreated:
    """Create a user and their first API key, returned this once."""
    return usecases.create_user(ctx, principal, body)


@router.post("/users/{name}/keys", response_model=KeyIssued, status_code=201)
def issue_key(
    name: str = Path(pattern=USER_NAME_PATTERN),
    principal: Principal = Depends(_admin),
    ctx: ServiceContext = Depends(get_context),
) -> KeyIssued:
    """Another API key for a user, returned this once."""
    return usecases.issue_key(ctx, principal, name)


@router.delete("/keys/{key_id}", response_model=KeyOut)
def revoke_key(
    key_id: str = Path(pattern=r"^[0-9a-f]{8}$", description="8 hex digits"),
    principal: Principal = Depends(_admin),
    ctx: ServiceContext = Depends(get_context),
) -> KeyOut:
    """Revoke a key; bearer tokens made from it stop working at once."""
    return usecases.revoke_key(ctx, principal, key_id)


@router.post("/keys/{key_id}/signing", response_model=SigningOut)
def require_signing(
    key_id: str = Path(pattern=r"^[0-9a-f]{8}$", description="8 hex digits"),
    principal: Principal = Depends(_admin),
    ctx: ServiceContext = Depends(get_context),
) -> SigningOut:
    """From now on the key's changes must be signed (HMAC-SHA256); returns its signing secret
    this once (it is derived, never stored)."""
    return usecases.require_signing(ctx, principal, key_id)
