"""Bearer tokens and API keys: expired, tampered, foreign and revoked credentials get 401."""

from __future__ import annotations

import base64
import json
import time

import pytest

from clearway.errors import CredentialError, TokenExpiredError
from clearway.service.tokens import issue_token, verify_token

from .conftest import SECRET

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_fresh_token_works_and_carries_the_role(service):
    r = service.client.post("/auth/token", headers=service.as_("admin"))
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in_s"] == 900
    assert service.client.get("/users", headers=_bearer(body["access_token"])).status_code == 200
    viewer = service.token("viewer")
    assert service.client.get("/users", headers=_bearer(viewer)).status_code == 403


def test_expired_token_is_refused_saying_so(service):
    token, _ = issue_token(
        SECRET.encode(), sub="admin", role="admin", kid=service.key_ids["admin"],
        ttl_s=60, now_s=time.time() - 120,
    )  # fmt: skip
    r = service.client.get("/users", headers=_bearer(token))
    assert r.status_code == 401
    assert "expired" in r.json()["detail"] and r.json()["error"] == "TokenExpiredError"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_tampered_token_is_refused(service):
    token = service.token("viewer")
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["role"] = "admin"  # promote oneself, keep the old signature
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for bad in (f"{head}.{forged}.{sig}", f"{head}.{body}.{sig[:-2]}AA"):
        r = service.client.get("/users", headers=_bearer(bad))
        assert r.status_code == 401, bad
        assert "signature" in r.json()["detail"]


def test_token_signed_with_another_secret_is_refused(service):
    token, _ = issue_token(
        b"another-secret-of-enough-length-0123456789", sub="admin", role="admin",
        kid=service.key_ids["admin"], ttl_s=600,
    )  # fmt: skip
    assert service.client.get("/junctions", headers=_bearer(token)).status_code == 401


def test_revoked_key_and_its_tokens_are_refused_at_once(service):
    token = service.token("viewer")
    assert service.client.get("/junctions", headers=_bearer(token)).status_code == 200
    r = service.client.delete(f"/keys/{service.key_ids['viewer']}", headers=service.as_("admin"))
    assert r.status_code == 200 and r.json()["active"] is False
    assert service.client.get("/junctions", headers=service.as_("viewer")).status_code == 401
    r = service.client.get("/junctions", headers=_bearer(token))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_a_token_cannot_be_exchanged_for_a_new_token(service):
    r = service.client.post("/auth/token", headers=service.bearer("viewer"))
    assert r.status_code == 401


def test_unsupported_scheme_and_two_credentials_are_refused(service):
    r = service.client.get("/junctions", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert r.status_code == 401 and "Bearer" in r.json()["detail"]
    both = service.as_("viewer") | service.bearer("viewer")
    assert service.client.get("/junctions", headers=both).status_code == 401


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "eyJhbGciOiJub25lIn0.e30.", "é.é.é", "x" * 5000],
)
def test_verify_token_rejects_malformed_tokens(token, backend):
    with pytest.raises(CredentialError):
        verify_token(SECRET.encode(), token)


def test_verify_token_rejects_alg_none_and_accepts_its_own(backend):
    token, claims = issue_token(SECRET.encode(), sub="u", role="viewer", kid="0a0b0c0d", ttl_s=5)
    assert verify_token(SECRET.encode(), token) == claims
    none_head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    _, body, _ = token.split(".")
    with pytest.raises(CredentialError, match="HS256"):
        verify_token(SECRET.encode(), f"{none_head}.{body}.")
    with pytest.raises(TokenExpiredError):
        verify_token(SECRET.encode(), token, now_s=claims.exp_s)
