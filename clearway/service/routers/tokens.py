"""``POST /auth/token``: exchange an API key (``X-API-Key``) for a short-lived bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from clearway.errors import CredentialError
from clearway.service import usecases
from clearway.service.auth import Principal, current_principal
from clearway.service.context import ServiceContext, get_context
from clearway.service.schemas import TokenOut

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
def token(
    principal: Principal = Depends(current_principal),
    ctx: ServiceContext = Depends(get_context),
) -> TokenOut:
    """A bearer token for the caller (any role), valid ``CLEARWAY_TOKEN_TTL_S`` seconds.

    Only an API key can be exchanged: a token cannot extend its own life.
    """
    if principal.method != "api_key":
        raise CredentialError("exchange an API key (X-API-Key), not a bearer token, for a token")
    return usecases.exchange_key_for_token(ctx, principal)
