"""Prometheus metrics of one app instance, in their own registry (two apps in one process,
as in the tests, must not share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ServiceMetrics"]


class ServiceMetrics:
    """Request counts and latency per route template, and authentication failures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "clearway_http_requests",
            "HTTP requests handled, by method, route template and status code",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency_s = Histogram(
            "clearway_http_request_duration_seconds",
            "Time to answer an HTTP request (s), by method and route template",
            ("method", "route"),
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.auth_failures = Counter(
            "clearway_auth_failures",
            "Requests refused for a missing or bad credential (401) or a role (403)",
            ("status",),
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, duration_s: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency_s.labels(method, route).observe(duration_s)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
