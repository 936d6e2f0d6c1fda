"""What every route needs, built once by the app factory and kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from clearway.errors import ServiceUnavailableError
from clearway.network import Network
from clearway.service.metrics import ServiceMetrics
from clearway.service.settings import ServiceSettings
from clearway.signals.model import Intersection
from clearway.storage.audit import AuditLog


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
    """

    settings: ServiceSettings
    engine: Engine
    sessions: sessionmaker[Session]
    audit: AuditLog
    network: Network | None = None
    intersections: dict[str, Intersection] = field(default_factory=dict)
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)

    def require_network(self) -> Network:
        """The network, or 503 explaining how to start the service with one."""
        if self.network is None:
            raise ServiceUnavailableError(
                "the service was started without a network; set CLEARWAY_NET_FILE "
                "(or pass network= to create_app)"
            )
        return self.network


def get_context(request: Request) -> ServiceContext:
    """FastAPI dependency: the app's :class:`ServiceContext`."""
    return request.app.state.clearway
