"""Recently checked credentials, so a dispatch system sending positions many times a second
is not checked against the database (and, for an API key, scrypt) on every call.

Entries are keyed by the SHA-256 of the credential (the cache never holds a key or token)
and live :data:`TTL_S` seconds, never past a token's own expiry. Revoking a key through this
service drops its entries at once; a key revoked by another process (``clearway users
revoke``) stops working within :data:`TTL_S`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clearway.service.auth import Principal

#: How long a checked credential is trusted without asking the database again (s).
TTL_S = 5.0
#: Entries kept at most; the cache is emptied when full (credentials are few in practice).
MAX_ENTRIES = 10_000


class CredentialCache:
    """Principal per credential digest, with expiry; thread-safe."""

    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def digest(credential: str) -> bytes:
        return hashlib.sha256(credential.encode("utf-8", "surrogatepass")).digest()

    def get(self, credential: str) -> Principal | None:
        """The principal checked for this credential within the TTL, else ``None``."""
        key = self.digest(credential)
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] <= time.monotonic():
                del self._entries[key]
                return None
            return found[1]

    def put(self, credential: str, principal: Principal, *, expires_in_s: float | None = None) -> None:
        """Trust ``principal`` for this credential for the TTL (or less: ``expires_in_s``)."""
        ttl = self.ttl_s if expires_in_s is None else min(self.ttl_s, expires_in_s)
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[self.digest(credential)] = (time.monotonic() + ttl, principal)

    def drop_key(self, key_id: str) -> None:
        """Forget every credential of an API key (and of the tokens exchanged for it)."""
        with self._lock:
            for k in [k for k, (_, p) in self._entries.items() if p.key_id == key_id]:
                del self._entries[k]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
