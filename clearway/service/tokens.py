"""Bearer tokens: compact JWTs (HS256) made and checked with the standard library.

A token is ``base64url(header).base64url(claims).base64url(HMAC-SHA256(secret, first two))``
with header ``{"alg": "HS256", "typ": "JWT"}`` and claims ``sub`` (user), ``role``, ``kid``
(the API key it was exchanged for), ``iat`` and ``exp`` (UNIX time, s). Any JWT library
reads them; only ``HS256`` is accepted (never ``none``), and the signature is compared in
constant time before anything in the claims is trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from clearway.errors import CredentialError, TokenExpiredError

_HEADER = {"alg": "HS256", "typ": "JWT"}
#: How far a token's ``iat`` may lie in the future (s): clocks of two hosts disagree a little.
CLOCK_SKEW_S = 30
#: Longest token accepted (characters); a real one is about 250.
MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says (times are UNIX time, s)."""

    sub: str
    role: str
    kid: str
    iat_s: int
    exp_s: int


def issue_token(
    secret: bytes, *, sub: str, role: str, kid: str, ttl_s: int, now_s: float | None = None
) -> tuple[str, TokenClaims]:
    """A signed token for ``sub`` valid for ``ttl_s`` seconds from ``now_s`` (default: now)."""
    iat = int(now_s if now_s is not None else time.time())
    claims = TokenClaims(sub, role, kid, iat, iat + int(ttl_s))
    body = {"sub": sub, "role": role, "kid": kid, "iat": iat, "exp": claims.exp_s}
    signing_input = f"{_b64(_json(_HEADER))}.{_b64(_json(body))}"
    return f"{signing_input}.{_b64(_sign(secret, signing_input))}", claims


def verify_token(secret: bytes, token: str, *, now_s: float | None = None) -> TokenClaims:
    """The claims of ``token`` if it is well formed, signed with ``secret`` and not expired.

    Raises
    ------
    TokenExpiredError
        Signature fine, but ``exp`` has passed.
    CredentialError
        Malformed, another algorithm, a bad signature (tampered, or another secret), or
        claims missing or of the wrong type.
    """
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise CredentialError("malformed bearer token; get a new one from POST /auth/token")
    head_b64, body_b64, sig_b64 = token.split(".")
    signing_input = f"{head_b64}.{body_b64}"
    try:
        sig = _unb64(sig_b64)
        header = json.loads(_unb64(head_b64))
    except (ValueError, binascii.Error):
        raise CredentialError(
            "malformed bearer token; get a new one from POST /auth/token"
        ) from None
    if header != _HEADER:
        raise CredentialError("bearer token must be an HS256 JWT issued by POST /auth/token")
    if not hmac.compare_digest(sig, _sign(secret, signing_input)):
        raise CredentialError(
            "bearer token signature is invalid; get a new one from POST /auth/token"
        )
    try:
        body = json.loads(_unb64(body_b64))
        claims = TokenClaims(
            _str(body["sub"]), _str(body["role"]), _str(body["kid"]),
            _int(body["iat"]), _int(body["exp"]),
        )  # fmt: skip
    except (ValueError, binascii.Error, KeyError, TypeError):
        raise CredentialError("bearer token claims are malformed; get a new token") from None
    now = time.time() if now_s is None else now_s
    if now >= claims.exp_s:
        raise TokenExpiredError(
            f"bearer token expired {int(now - claims.exp_s)} s ago; exchange your API key "
            "for a new one at POST /auth/token"
        )
    if claims.iat_s > now + CLOCK_SKEW_S:
        raise CredentialError("bearer token is issued in the future; check the server clock")
    return claims


def _sign(secret: bytes, signing_input: str) -> bytes:
    return hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("claim must be a non-empty string")
    return value


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("claim must be an integer")
    return value
