"""Signed requests: an option for dispatch systems that sign what they send.

An API key alone is a bearer secret: whoever copies it can turn lights green until it is
revoked. A key marked *signed* must also sign every change it makes with its signing secret —
an HMAC-SHA256 over the method, the path, a time stamp and the body:

    X-Clearway-Timestamp: <unix time, s>
    X-Clearway-Signature: v1=<hex HMAC-SHA256(secret, "v1\\n{METHOD}\\n{path}\\n{timestamp}\\n" + body)>

A stamp more than :data:`MAX_SKEW_S` from the server's clock, a signature seen before (a
replay) or a wrong one is refused (401, audited). The signing secret is never stored: it is
derived from the service's token secret and the key id, handed out once by an admin
(``POST /keys/{key_id}/signing``), and changes if the token secret is rotated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time

from clearway.errors import CredentialError

SIGNATURE_HEADER = "X-Clearway-Signature"
TIMESTAMP_HEADER = "X-Clearway-Timestamp"
#: Largest difference between the sender's stamp and the server's clock (s).
MAX_SKEW_S = 60.0
VERSION = "v1"


def signing_secret(server_secret: bytes, key_id: str) -> str:
    """The signing secret of an API key (derived, never stored)."""
    mac = hmac.new(server_secret, b"clearway-signing\n" + key_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def signature(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex>``: what a sender puts in :data:`SIGNATURE_HEADER`."""
    msg = f"{VERSION}\n{method.upper()}\n{path}\n{timestamp}\n".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


class SignatureChecker:
    """Checks signatures and remembers those seen within the allowed skew (replays)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(
        self,
        secret: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        now: float | None = None,
    ) -> None:
        """Accept a correctly signed, fresh, never-seen request.

        Raises
        ------
        CredentialError
            What is wrong: a missing header, a stale or future stamp, a wrong signature, a
            replay.
        """
        got = headers.get(SIGNATURE_HEADER.lower())
        stamp = headers.get(TIMESTAMP_HEADER.lower())
        if not got or not stamp:
            raise CredentialError(
                f"this API key must sign its changes: send {TIMESTAMP_HEADER} and "
                f"{SIGNATURE_HEADER} ({VERSION}=HMAC-SHA256 of method, path, time stamp and body)"
            )
        t = time.time() if now is None else now
        try:
            skew = abs(float(stamp) - t)
        except ValueError:
            raise CredentialError(f"{TIMESTAMP_HEADER} must be a unix time in seconds") from None
        if not skew <= MAX_SKEW_S:
            raise CredentialError(
                f"{TIMESTAMP_HEADER} is {skew:.0f} s from the server's clock (at most "
                f"{MAX_SKEW_S:.0f} s); check the sender's clock"
            )
        want = signature(secret, method, path, stamp, body)
        if not hmac.compare_digest(want, got.strip()):
            raise CredentialError(
                f"{SIGNATURE_HEADER} does not match the request (method, path, time stamp, body)"
            )
        with self._lock:
            for old in [s for s, at in self._seen.items() if at < t - 2 * MAX_SKEW_S]:
                del self._seen[old]
            if want in self._seen:
                raise CredentialError("this signed request was sent before: a replay is refused")
            self._seen[want] = t
