"""Per-principal rate limits: a token bucket per (principal, kind of request).

A stolen or buggy dispatch key must not be able to flood the service: each principal may
make ``rate`` requests of a kind per second, and spend ``burst_s`` seconds' worth at once.
Kinds: ``positions`` (a vehicle reports several times a second), ``writes`` (create, cancel,
renew, strategy, users ...), ``reads``, and ``public`` (the unauthenticated alert feed,
keyed by client address, not principal). A refusal is a 429 with ``Retry-After``; the first
refusal of a principal in a minute is audited (``auth.throttled``), not every one — the
audit log must not become the flood's target (the public feed's refusals are not audited).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from clearway.errors import ClearwayError

#: The kinds of request limited separately.
KINDS = ("positions", "writes", "reads", "public")
#: A principal's refusals are audited at most once in this long (s).
AUDIT_EVERY_S = 60.0


class RateLimitedError(ClearwayError):
    """Too many requests of a kind from one principal (HTTP 429)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class _Bucket:
    tokens: float
    at: float
    audited_at: float = -math.inf


class RateLimiter:
    """Token buckets per (principal, kind).

    Parameters
    ----------
    rates_per_s
        Sustained rate per kind (per s).
    burst_s
        Bucket size, in seconds of the rate.
    """

    def __init__(self, rates_per_s: dict[str, float], burst_s: float) -> None:
        unknown = set(rates_per_s) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown rate-limit kinds {sorted(unknown)}; use {KINDS}")
        self.rates_per_s = dict(rates_per_s)
        self.burst_s = burst_s
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def take(
        self, principal: str, kind: str, now: float | None = None, *, cost: float = 1.0
    ) -> bool:
        """Spend ``cost`` requests of ``kind`` (a batch of updates costs one each); returns
        ``False`` (kept for the refusal's audit flag).

        Raises
        ------
        RateLimitedError
            The principal has no request of this kind left now.
        """
        rate = self.rates_per_s[kind]
        size = max(rate * self.burst_s, 1.0)
        t = time.monotonic() if now is None else now
        with self._lock:
            b = self._buckets.get((principal, kind))
            if b is None:
                b = self._buckets[(principal, kind)] = _Bucket(size, t)
            b.tokens = min(size, b.tokens + (t - b.at) * rate)
            b.at = t
            if b.tokens >= cost:
                b.tokens -= cost
                return False
            retry_s = (min(cost, size) - b.tokens) / rate
            audit = t - b.audited_at >= AUDIT_EVERY_S
            if audit:
                b.audited_at = t
        err = RateLimitedError(
            f"too many requests ({kind}) from {principal!r}: at most {rate:g}/s "
            f"(bursts of {size:.0f}); retry in {retry_s:.2f} s",
            retry_s,
        )
        err.audit = audit  # type: ignore[attr-defined]
        raise err
