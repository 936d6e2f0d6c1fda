"""The public transparency report behind ``/public/report`` and ``/public/key``.

The aggregation is :mod:`clearway.storage.public_report`; here: the service's signing key
(``CLEARWAY_REPORT_KEY_FILE``, read once), its network for the no-priority estimate, the k
floor (``CLEARWAY_PUBLIC_REPORT_K``, at least 5; a caller may ask for a larger k, never a
smaller one) and a short cache, so anonymous callers cannot make the database recompute a
month's aggregates on every request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearway.service.context import ServiceContext
from clearway.storage.public_report import UNSIGNED, Estimator, check_k, parse_period, publish
from clearway.storage.signed_head import load_private_key, public_key_b64

#: How long a computed report is served again before it is recomputed (s).
CACHE_S = 60.0
#: Reports kept in the cache at most (periods x k values).
CACHE_ENTRIES = 64


@dataclass
class _Publisher:
    """Per service: the key and estimator (made once) and the cached reports."""

    key: Ed25519PrivateKey | None
    estimator: Estimator | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[tuple[str, int], tuple[float, dict[str, Any]]] = field(default_factory=dict)


def _publisher(ctx: ServiceContext) -> _Publisher:
    found = ctx.__dict__.get("_transparency")
    if found is None:
        path = ctx.settings.report_key_file
        key = load_private_key(path) if path is not None else None
        estimator = None
        if ctx.network is not None:
            from clearway.network.no_priority import route_estimator

            estimator = route_estimator(ctx.network)
        found = ctx.__dict__.setdefault("_transparency", _Publisher(key, estimator))
    return found


def public_report(
    ctx: ServiceContext, *, month: str | None, day: str | None, k: int | None
) -> dict[str, Any]:
    """The report of a month or day (default this month), with the signed audit head.

    Raises
    ------
    ConfigError
        A malformed period, both given, or ``k`` below the service's floor.
    """
    floor = ctx.settings.public_report_k
    k = check_k(floor if k is None else k)
    if k < floor:
        from clearway.errors import ConfigError

        raise ConfigError(f"k = {k} is below this service's floor of {floor}")
    period = parse_period(month, day)
    pub = _publisher(ctx)
    now = time.monotonic()
    with pub.lock:
        hit = pub.cache.get((period.label, k))
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
    with ctx.sessions() as s:
        report = publish(s, period, k=k, estimator=pub.estimator, key=pub.key)
    with pub.lock:
        if len(pub.cache) >= CACHE_ENTRIES:
            pub.cache.clear()
        pub.cache[(period.label, k)] = (now, report)
    return report


def public_key(ctx: ServiceContext) -> dict[str, str | None]:
    """The public key that checks the published heads (``None`` and why, when unset)."""
    pub = _publisher(ctx)
    if pub.key is None:
        return {"algorithm": None, "public_key": None, "pem": None, "unsigned": UNSIGNED}
    from cryptography.hazmat.primitives import serialization

    public = pub.key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return {"algorithm": "Ed25519", "public_key": public_key_b64(public), "pem": pem}
