"""What every route needs, built once by the app factory and kept on ``app.state``."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from clearway.errors import ServiceUnavailableError
from clearway.network import Network
from clearway.network.graph import RoutingGraph, build_routing_graph
from clearway.service.alert_publisher import AlertPublisher
from clearway.service.clock import TrafficClock
from clearway.service.credential_cache import CredentialCache
from clearway.service.metrics import ServiceMetrics
from clearway.service.plan_book import PlanBook
from clearway.service.rate_limit import RateLimiter
from clearway.service.replay_jobs import ReplayJobs
from clearway.service.settings import ServiceSettings
from clearway.service.signing import SignatureChecker
from clearway.signals.model import Intersection
from clearway.storage.audit import AuditLog

if TYPE_CHECKING:
    from clearway.service.runtime import ServiceRuntime
    from clearway.service.transit_feed import TransitDesk


@dataclass
class ServiceContext:
    """The service's collaborators (one per app).

    Attributes
    ----------
    settings
        Checked settings (the token secret is usable).
    engine, sessions, audit
        The database, its session factory and its audit log.
    network, intersections
        The network served and its intersection models by signal id (``None``/empty when
        the service was started without a network).
    metrics
        This app's Prometheus metrics.
    runtime
        The live twin and control loop behind the priority routes (``None``: none).
    credentials
        Recently checked credentials (see :mod:`clearway.service.credential_cache`).
    limiter
        Per-principal rate limits (see :mod:`clearway.service.rate_limit`).
    signatures
        Checks signed requests and refuses replays (see :mod:`clearway.service.signing`).
    public_alerts
        The public alert feed's last body and open streams (see
        :mod:`clearway.service.alert_publisher`).
    convoy_plans
        Convoy plans of this run: quotes, bookings, refusals (see
        :mod:`clearway.service.plan_book`).
    transit
        The buses a transit operator feeds, with their schedule (see
        :mod:`clearway.service.transit_feed`); loaded on first use.
    replays
        Re-runs of past requests started from the dashboard (see
        :mod:`clearway.service.replay_jobs`); made on first use.
    """

    settings: ServiceSettings
    engine: Engine
    sessions: sessionmaker[Session]
    audit: AuditLog
    network: Network | None = None
    intersections: dict[str, Intersection] = field(default_factory=dict)
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    runtime: ServiceRuntime | None = None
    credentials: CredentialCache = field(default_factory=CredentialCache)
    signatures: SignatureChecker = field(default_factory=SignatureChecker)
    limiter: RateLimiter = field(
        default_factory=lambda: RateLimiter(
            {"positions": 200.0, "writes": 2.0, "reads": 100.0, "public": 2.0}, burst_s=10.0
        )
    )
    public_alerts: AlertPublisher = field(default_factory=AlertPublisher, repr=False)
    convoy_plans: PlanBook = field(default_factory=PlanBook, repr=False)
    transit: TransitDesk | None = field(default=None, repr=False)
    replays: ReplayJobs | None = field(default=None, repr=False)
    _graph: RoutingGraph | None = field(default=None, repr=False)

    def routing_graph(self) -> RoutingGraph:
        """The network's routing graph for priority vehicles (built once, on first use)."""
        if self._graph is None:
            self._graph = build_routing_graph(self.require_network())
        return self._graph

    def replay_jobs(self) -> ReplayJobs:
        """The re-runs of past requests (made on first use, in ``settings.replay_dir``)."""
        if self.replays is None:
            where = self.settings.replay_dir or Path(tempfile.mkdtemp(prefix="clearway-replay-"))
            self.replays = ReplayJobs(self.sessions, where)
        return self.replays

    def traffic_clock(self) -> TrafficClock | None:
        """Traffic time and UTC as the live runtime keeps them (see
        :meth:`ServiceRuntime.traffic_clock`); ``None`` without a runtime or a clock."""
        return self.runtime.traffic_clock() if self.runtime is not None else None

    def require_network(self) -> Network:
        """The network, or 503 explaining how to start the service with one."""
        if self.network is None:
            raise ServiceUnavailableError(
                "the service was started without a network; set CLEARWAY_NET_FILE "
                "(or pass network= to create_app)"
            )
        return self.network

    def require_runtime(self) -> ServiceRuntime:
        """The live runtime, or 503 explaining how to start the service with one."""
        if self.runtime is None:
            raise ServiceUnavailableError(
                "the service was started without a live runtime; start it with `clearway serve`"
            )
        return self.runtime


async def get_context(request: Request) -> ServiceContext:
    """FastAPI dependency: the app's :class:`ServiceContext`."""
    return request.app.state.clearway
