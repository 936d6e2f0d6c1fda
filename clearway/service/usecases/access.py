"""Use cases of access: bearer tokens for API keys, users and their keys (admin, audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clearway.errors import (
    ConflictError,
    UnknownKeyError,
    UnknownUserError,
)
from clearway.service import signing
from clearway.service.auth import Principal
from clearway.service.context import ServiceContext
from clearway.service.schemas import (
    KeyIssued,
    KeyOut,
    SigningOut,
    TokenOut,
    UserCreate,
    UserCreated,
    UserOut,
)
from clearway.service.tokens import issue_token
from clearway.storage import users as user_store
from clearway.storage.audit import AuditEntry, AuditKind, append_entries
from clearway.storage.db import write_session
from clearway.storage.models import ApiKeyRow


# -- tokens -------------------------------------------------------------------------------
def exchange_key_for_token(ctx: ServiceContext, principal: Principal) -> TokenOut:
    """A bearer token for a caller who authenticated with an API key (audited)."""
    token, claims = issue_token(
        ctx.settings.secret_bytes(),
        sub=principal.name,
        role=principal.role,
        kid=principal.key_id,
        ttl_s=ctx.settings.token_ttl_s,
    )
    ctx.audit.append(
        "auth.token",
        principal=principal.name,
        payload={"key_id": principal.key_id, "exp": claims.exp_s},
    )
    return TokenOut(
        access_token=token,
        expires_in_s=claims.exp_s - claims.iat_s,
        expires_at=datetime.fromtimestamp(claims.exp_s, UTC),
    )


# -- users and keys (admin) ---------------------------------------------------------------
def _admin(principal: Principal, action: str, **payload: Any) -> AuditEntry:
    return AuditEntry(
        AuditKind.ADMIN,
        principal.name,
        payload={"action": action, "via_key_id": principal.key_id, **payload},
    )


def _user_out(info: user_store.UserInfo) -> UserOut:
    return UserOut(
        name=info.name,
        role=info.role,  # type: ignore[arg-type]
        created_at=info.created_at,
        keys=[
            KeyOut(
                key_id=k.key_id, created_at=k.created_at, revoked_at=k.revoked_at, active=k.active
            )
            for k in info.keys
        ],
    )


def list_users(ctx: ServiceContext) -> list[UserOut]:
    """Every user and their key ids (never keys)."""
    with ctx.sessions() as session:
        return [_user_out(u) for u in user_store.list_users(session)]


def create_user(ctx: ServiceContext, principal: Principal, body: UserCreate) -> UserCreated:
    """Create a user with a first API key (returned once).

    Raises
    ------
    ConflictError
        The name is taken; nothing changed.
    """
    with write_session(ctx.sessions) as session:
        if any(u.name == body.name for u in user_store.list_users(session)):
            raise ConflictError(f"user {body.name!r} exists; issue another key with POST "
                                f"/users/{body.name}/keys, or pick another name")  # fmt: skip
        info, key = user_store.add_user(session, body.name, body.role)
        key_id = info.keys[0].key_id
        append_entries(
            session, [_admin(principal, "user.add", user=body.name, role=body.role, key_id=key_id)]
        )
    return UserCreated(user=_user_out(info), key_id=key_id, key=key)


def issue_key(ctx: ServiceContext, principal: Principal, name: str) -> KeyIssued:
    """Another API key for an existing user (returned once).

    Raises
    ------
    UnknownUserError
        No such user; nothing changed.
    """
    with write_session(ctx.sessions) as session:
        names = [u.name for u in user_store.list_users(session)]
        if name not in names:
            raise UnknownUserError(name, names)
        key_id, key = user_store.issue_key(session, name)
        append_entries(session, [_admin(principal, "key.issue", user=name, key_id=key_id)])
    return KeyIssued(user=name, key_id=key_id, key=key)


def revoke_key(ctx: ServiceContext, principal: Principal, key_id: str) -> KeyOut:
    """Revoke a key; its tokens stop working at once. Revoking twice is not an error, but
    only the first revocation is audited as one.

    Raises
    ------
    UnknownKeyError
        No key has this id (no near matches are offered: key ids are not for guessing).
    """
    with write_session(ctx.sessions) as session:
        row = session.get(ApiKeyRow, key_id)
        if row is None:
            raise UnknownKeyError(key_id, (), where="the database")
        was_active = row.revoked_at is None
        info = user_store.revoke_key(session, key_id)
        if was_active:
            append_entries(session, [_admin(principal, "key.revoke", key_id=key_id)])
    ctx.credentials.drop_key(key_id)
    return KeyOut(
        key_id=info.key_id, created_at=info.created_at, revoked_at=info.revoked_at, active=False
    )


def require_signing(ctx: ServiceContext, principal: Principal, key_id: str) -> SigningOut:
    """Make a key sign its changes; its signing secret, returned once (audited, without it).

    Raises
    ------
    UnknownKeyError
        No such key (404).
    """
    with write_session(ctx.sessions) as session:
        user_store.set_signed(session, key_id, True)
        append_entries(session, [_admin(principal, "key.signing", key_id=key_id)])
    ctx.credentials.drop_key(key_id)  # cached principals of the key do not know yet
    return SigningOut(
        key_id=key_id,
        signing_secret=signing.signing_secret(ctx.settings.secret_bytes(), key_id),
        timestamp_header=signing.TIMESTAMP_HEADER,
        signature_header=signing.SIGNATURE_HEADER,
        scheme=f"{signing.VERSION}=hex(HMAC-SHA256(secret, 'v1\\n' + METHOD + '\\n' + path + "
        "'\\n' + timestamp + '\\n' + body)); timestamp = unix seconds, within "
        f"{signing.MAX_SKEW_S:.0f} s of the server's clock; each signature is accepted once",
    )
