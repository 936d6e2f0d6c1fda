"""Signed requests: a key marked signed must sign each change (HMAC-SHA256 over method, path,
time stamp and body); an unsigned, stale, wrong or replayed one is a 401 (audited); reads need
no signature; the secret is derived from the service's secret, handed out once."""

from __future__ import annotations

import json
import time

import pytest

from clearway.errors import CredentialError
from clearway.service.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureChecker,
    signature,
    signing_secret,
)

BODY = {
    "vehicle_id": "AMB-S",
    "role": "ambulance",
    "incident_id": "INC-S",
    "origin_edge": "A0A1",
    "destination_edge": "B2C2",
}


def _headers(secret, method, path, body: bytes, t=None):
    stamp = str(int(time.time() if t is None else t))
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret, method, path, stamp, body),
        "content-type": "application/json",
    }


def test_checker_accepts_once_and_names_what_is_wrong():
    secret = signing_secret(b"s" * 48, "0123abcd")
    assert secret != signing_secret(b"s" * 48, "0123abce") != signing_secret(b"t" * 48, "0123abcd")
    chk = SignatureChecker()
    body = b'{"a": 1}'
    h = {k.lower(): v for k, v in _headers(secret, "POST", "/x", body, t=1000).items()}
    chk.check(secret, "POST", "/x", h, body, now=1000.0)
    with pytest.raises(CredentialError, match="replay"):
        chk.check(secret, "POST", "/x", h, body, now=1001.0)
    h2 = {k.lower(): v for k, v in _headers(secret, "POST", "/x", body, t=1002).items()}
    with pytest.raises(CredentialError, match="does not match"):
        chk.check(secret, "POST", "/x", h2, body + b" ", now=1002.0)  # the body changed
    with pytest.raises(CredentialError, match="does not match"):
        chk.check(secret, "DELETE", "/x", h2, body, now=1002.0)  # the method changed
    with pytest.raises(CredentialError, match="from the server's clock"):
        chk.check(secret, "POST", "/x", h2, body, now=1002.0 + 61)
    with pytest.raises(CredentialError, match="must sign"):
        chk.check(secret, "POST", "/x", {}, body, now=1002.0)
    with pytest.raises(CredentialError, match="unix time"):
        chk.check(secret, "POST", "/x", h2 | {TIMESTAMP_HEADER.lower(): "noon"}, body, now=1.0)


@pytest.mark.sumo
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_signed_key_must_sign_its_changes(live_service):
    live = live_service
    kid = live.key_ids["dispatcher"]
    r = live.client.post(f"/keys/{kid}/signing", headers=live.as_("admin"))
    assert r.status_code == 200, r.text
    secret = r.json()["signing_secret"]
    assert r.json()["signature_header"] == SIGNATURE_HEADER
    assert secret not in json.dumps([rec for rec in live.client.get(
        "/audit", params={"kind": "admin"}, headers=live.as_("admin")).json()["records"]])  # fmt: skip

    before = live.audit_kinds().count("auth.failed")
    r = live.client.post("/priority-requests", json=BODY, headers=live.as_("dispatcher"))
    assert r.status_code == 401 and SIGNATURE_HEADER in r.json()["detail"], r.text
    assert live.audit_kinds().count("auth.failed") == before + 1
    # Reads need no signature.
    assert live.client.get("/priority-requests", headers=live.as_("dispatcher")).status_code == 200

    body = json.dumps(BODY).encode()
    signed = _headers(secret, "POST", "/priority-requests", body) | live.as_("dispatcher")
    r = live.client.post("/priority-requests", content=body, headers=signed)
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]
    r = live.client.post("/priority-requests", content=body, headers=signed)  # replayed
    assert r.status_code == 401 and "replay" in r.json()["detail"], r.text
    # A bearer token made from the key carries the same duty.
    token = live.bearer("dispatcher")
    path = f"/priority-requests/{rid}"
    r = live.client.delete(path, headers=token)
    assert r.status_code == 401, r.text
    r = live.client.delete(path, headers=token | _headers(secret, "DELETE", path, b""))
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    # Other keys are unaffected.
    r = live.client.post(
        "/priority-requests", json=BODY | {"vehicle_id": "AMB-T"}, headers=live.as_("dispatcher2")
    )
    assert r.status_code == 201, r.text
