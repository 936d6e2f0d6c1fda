"""Users, their roles, and API keys stored only as salted hashes.

A key looks like ``cwk_<key id>_<secret>``: the key id (8 hex digits) is public and finds
the row; the secret (32 random bytes, URL-safe base64) is never stored, only
``scrypt(secret, per-key salt)``. The key is shown once, when made; a lost key is revoked
and a new one issued. Checking a key costs one scrypt (about 20 ms of CPU, off the GIL)
whether or not its id exists, and compares digests in constant time.

Roles: ``viewer`` reads, ``dispatcher`` may request priority, ``operator`` may change plans,
``admin`` manages users, ``transit`` (a transit operator's system) only feeds its buses. What each role may do is the service's decision; this module only
stores who has which.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearway.errors import AuthError, StorageError, UnknownKeyError
from clearway.storage.models import ROLES, ApiKeyRow, UserRow, as_utc, utcnow

KEY_PREFIX = "cwk"
_NAME = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
_KEY = re.compile(rf"^{KEY_PREFIX}_([0-9a-f]{{8}})_([A-Za-z0-9_\-]{{20,128}})$")
# scrypt cost: a key carries 256 random bits, so stretching buys little against guessing;
# it makes a stolen table slower to test and keeps a check around 20 ms. Stored with each
# hash, so raising it later does not invalidate existing keys.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**12, 8, 1, 32
_SALT_BYTES = 16


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid key belongs to."""

    user: str
    role: str
    key_id: str
    #: Its changes must be signed (HMAC).
    signed: bool = False


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key without its secret."""

    key_id: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user and all their keys, oldest first."""

    name: str
    role: str
    created_at: datetime
    keys: tuple[KeyInfo, ...]


def check_role(role: str) -> str:
    """``role`` if it is one of viewer, dispatcher, operator, admin, transit; else
    :class:`StorageError`."""
    if role not in ROLES:
        raise StorageError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def add_user(session: Session, name: str, role: str) -> tuple[UserInfo, str]:
    """Create a user with one API key; returns the user and the key (shown only this once).

    Raises
    ------
    StorageError
        Bad name or role, or the name is taken.
    """
    if not _NAME.match(name):
        raise StorageError(
            f"user name {name!r} must be 1-64 letters, digits or . _ @ - (no spaces)"
        )
    check_role(role)
    if session.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
        raise StorageError(f"user {name!r} exists; issue another key or revoke the old one")
    user = UserRow(name=name, role=role, created_at=utcnow())
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # a concurrent add of the same name won
        raise StorageError(f"user {name!r} exists") from None
    key = _new_key(session, user)
    return _info(session, user), key


def issue_key(session: Session, name: str) -> tuple[str, str]:
    """A new API key for an existing user; returns ``(key_id, key)``."""
    user = _user(session, name)
    key = _new_key(session, user)
    return _KEY.match(key).group(1), key  # type: ignore[union-attr]


def revoke_key(session: Session, key_id: str) -> KeyInfo:
    """Revoke a key by its id (idempotent: revoking twice keeps the first time).

    Raises
    ------
    StorageError
        No key has this id.
    """
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise StorageError(f"no API key with id {key_id!r}; `clearway users list` shows them")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return _key_info(row)


def list_users(session: Session) -> list[UserInfo]:
    """Every user with their keys, by name."""
    return [_info(session, u) for u in session.scalars(select(UserRow).order_by(UserRow.name))]


def authenticate(session: Session, key: str) -> Principal:
    """The principal a key belongs to.

    Raises
    ------
    AuthError
        Malformed, unknown or revoked key; the message does not say which, so a caller
        cannot probe for valid key ids.
    """
    m = _KEY.match(key or "")
    row = session.get(ApiKeyRow, m.group(1)) if m else None
    secret = m.group(2) if m else "x"
    # Hash even when there is no row, so a miss takes as long as a wrong secret.
    ok = verify_secret(secret, row.key_hash if row is not None else _dummy_hash())
    if not ok or row is None or row.revoked_at is not None:
        raise AuthError("invalid or revoked API key; ask an admin for a key")
    user = session.get(UserRow, row.user_id)
    assert user is not None  # the foreign key guarantees it
    return Principal(user.name, user.role, row.key_id, bool(row.signed))


def set_signed(session: Session, key_id: str, signed: bool = True) -> None:
    """Require (or stop requiring) signatures on the changes made with a key.

    Raises
    ------
    UnknownKeyError
        No such key.
    """
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise UnknownKeyError(key_id, (), where="the database")
    row.signed = signed
    session.flush()


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt_hex$digest_hex`` of ``secret`` with a fresh random salt."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_LEN
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored`` (constant-time comparison)."""
    try:
        algo, n, r, p, salt_hex, digest_hex = stored.split("$")
        if algo != "scrypt":
            return False
        want = bytes.fromhex(digest_hex)
        got = hashlib.scrypt(
            secret.encode(),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, want)


@functools.cache
def _dummy_hash() -> str:
    return hash_secret(secrets.token_urlsafe(32))


def _new_key(session: Session, user: UserRow) -> str:
    for _ in range(5):  # 8 hex digits: a clash is rare, but must not be an error
        key_id = secrets.token_hex(4)
        if session.get(ApiKeyRow, key_id) is None:
            break
    else:  # pragma: no cover - 5 clashes in a row means a broken random source
        raise StorageError("could not pick an unused API key id")
    secret = secrets.token_urlsafe(32)
    session.add(
        ApiKeyRow(key_id=key_id, user_id=user.id, key_hash=hash_secret(secret), created_at=utcnow())
    )
    session.flush()
    return f"{KEY_PREFIX}_{key_id}_{secret}"


def _user(session: Session, name: str) -> UserRow:
    user = session.scalar(select(UserRow).where(UserRow.name == name))
    if user is None:
        raise StorageError(f"no user {name!r}; `clearway users list` shows them")
    return user


def _key_info(row: ApiKeyRow) -> KeyInfo:
    revoked = as_utc(row.revoked_at) if row.revoked_at is not None else None
    return KeyInfo(row.key_id, as_utc(row.created_at), revoked)


def _info(session: Session, user: UserRow) -> UserInfo:
    keys = session.scalars(
        select(ApiKeyRow).where(ApiKeyRow.user_id == user.id).order_by(ApiKeyRow.created_at)
    )
    return UserInfo(
        user.name, user.role, as_utc(user.created_at), tuple(_key_info(k) for k in keys)
    )
