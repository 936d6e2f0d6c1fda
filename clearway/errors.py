"""The one error hierarchy of clearway.

Every message says what is wrong and what to do about it, so a traffic engineer reading a log
line (or an HTTP 4xx body) can fix the input without reading the code.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ClearwayError(Exception):
    """Base of every error clearway raises on purpose."""


class ConfigError(ClearwayError):
    """A configuration value or file is missing, malformed or unsafe."""


class UnsafeTimingError(ConfigError):
    """A safety-timing override would make a junction unsafe (e.g. yellow below 3 s)."""


class NetworkError(ClearwayError):
    """A network file is missing, unreadable, or not a usable SUMO network."""


class NoTrafficLightsError(NetworkError):
    """The network has no signalised junction but the operation needs one."""


class UnknownIdError(ClearwayError, KeyError):
    """An id (junction, edge, lane, signal) does not exist in the network."""

    kind = "id"
    #: Where to look up valid ids, for the message when no near match is found.
    lookup = "`clearway network info`"

    def __init__(self, unknown_id: str, known_ids: Iterable[str] = (), *, where: str = "") -> None:
        self.unknown_id = unknown_id
        self.suggestions = suggest(unknown_id, known_ids)
        place = f" in {where}" if where else ""
        hint = (
            f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else f"; check the id against {self.lookup}"
        )
        super().__init__(f"unknown {self.kind} {unknown_id!r}{place}{hint}")

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class UnknownJunctionError(UnknownIdError):
    kind = "junction"


class UnknownEdgeError(UnknownIdError):
    kind = "edge"


class UnknownLaneError(UnknownIdError):
    kind = "lane"


class UnknownSignalError(UnknownIdError):
    kind = "traffic light"


class UnknownRequestError(UnknownIdError):
    kind = "priority request"
    lookup = "GET /priority-requests"


class UnknownReplayError(UnknownIdError):
    """No re-run of that request was started (or it has no figure yet) in this service run."""

    kind = "re-run of request"
    lookup = "POST /audit/requests/{id}/replay (start one first)"


class ImplausiblePositionError(ClearwayError):
    """A reported position of a priority vehicle is physically impossible (a GPS glitch, a
    false position); the sample is ignored."""


class RouteError(ClearwayError):
    """No route exists between the requested places, or a route is not drivable."""


class SafetyRejected(ClearwayError):
    """A signal command was refused by the safety guard; ``reasons`` says which rules failed."""

    def __init__(self, signal_id: str, reasons: tuple[str, ...]) -> None:
        self.signal_id = signal_id
        self.reasons = reasons
        super().__init__(f"command for {signal_id!r} rejected: " + "; ".join(reasons))


class MonitorViolationError(ClearwayError):
    """The independent safety monitor saw a signal break a safety rule (strict mode: tests
    and CI run every scenario with it, so any violation fails them)."""


class SimulationError(ClearwayError):
    """The simulator could not be started or failed while running."""


class AuthError(ClearwayError):
    """A caller is not authenticated or lacks the role for an action."""


def suggest(unknown: str, known: Iterable[str], limit: int = 3) -> tuple[str, ...]:
    """Near matches of ``unknown`` among ``known`` ids, best first (may be empty)."""
    pool = list(known)
    close = difflib.get_close_matches(unknown, pool, n=limit, cutoff=0.6)
    if not close:
        # Ids like "B1" vs "b1" or "J12" vs "J12#1" are not close by ratio but are obvious.
        low = unknown.lower()
        close = [k for k in pool if low in k.lower() or k.lower() in low][:limit]
    return tuple(close)


class StorageError(ClearwayError):
    """The database is unreachable, malformed, not migrated, or refused an operation."""


class CredentialError(AuthError):
    """No credential, or one that is malformed, unknown, revoked, tampered with or expired
    (HTTP 401). The message never says which secret was wrong or whether a key id exists."""


class TokenExpiredError(CredentialError):
    """A bearer token is past its ``exp``; exchange the API key for a new one."""


class PermissionDeniedError(AuthError):
    """The caller is authenticated but their role may not do this (HTTP 403)."""


class ConflictError(ClearwayError):
    """The action clashes with what exists (a user name taken); nothing was changed."""


class UnknownUserError(UnknownIdError):
    kind = "user"
    lookup = "`clearway users list` or GET /users"


class UnknownKeyError(UnknownIdError):
    kind = "API key"
    lookup = "`clearway users list` or GET /users"


class PayloadTooLargeError(ClearwayError):
    """A request body is larger than the service accepts (HTTP 413)."""


class ServiceUnavailableError(ClearwayError):
    """The service lacks something this route needs (no network loaded) (HTTP 503)."""
