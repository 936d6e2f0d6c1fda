"""Priority trips as the user writes them (``--priority``, ``--convoy``) and their routes.

``--priority FROM_EDGE:TO_EDGE@DEPART_S[:ROLE]`` and ``--convoy FROM:TO@DEPART_S:N_VEHICLES``
are parsed into :class:`TripRequest`; :func:`plan_trips` routes them with clearway's own router
on free-flow times for vehicle class ``emergency`` — the route the controller plans too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clearway.errors import ConfigError, RouteError
from clearway.network.graph import RoutingGraph, build_routing_graph
from clearway.network.model import Network
from clearway.network.routing import Route, fastest_route
from clearway.sim.priority_trips import CONVOY_HEADWAY_S, PriorityTrip

#: J2735 importance (0-15) per role: life-saving trips first, then escorts and transit.
IMPORTANCE_BY_ROLE = {
    "ambulance": 12,
    "fire": 12,
    "police": 10,
    "convoy": 8,
    "transit": 4,
    "other": 6,
}
PRIORITY_FORMAT = "FROM_EDGE:TO_EDGE@DEPART_S[:ROLE]"
CONVOY_FORMAT = "FROM_EDGE:TO_EDGE@DEPART_S:N_VEHICLES"


@dataclass(frozen=True, slots=True)
class TripRequest:
    """A priority trip before routing.

    Attributes
    ----------
    from_edge, to_edge
        Road edge ids of the origin and the destination.
    depart_s
        Departure of the (first) vehicle (s).
    role
        J2735 role; one of :data:`IMPORTANCE_BY_ROLE`.
    vehicle_count
        1 for a single vehicle, 2 or more for a convoy.
    """

    from_edge: str
    to_edge: str
    depart_s: float
    role: str = "ambulance"
    vehicle_count: int = 1


def parse_priority(text: str) -> TripRequest:
    """Parse ``FROM_EDGE:TO_EDGE@DEPART_S[:ROLE]``, e.g. ``left2A2:E2right2@300:fire``.

    Raises
    ------
    ConfigError
        Malformed text, negative time or unknown role (the message shows the format).
    """
    edges, when = _split(text, "--priority", PRIORITY_FORMAT)
    depart, _, role = when.partition(":")
    role = role or "ambulance"
    if role not in IMPORTANCE_BY_ROLE or role == "convoy":
        roles = ", ".join(r for r in IMPORTANCE_BY_ROLE if r != "convoy")
        raise ConfigError(
            f"--priority {text!r}: unknown role {role!r}; use one of {roles} (convoys: --convoy)"
        )
    return TripRequest(*edges, _time(depart, text, "--priority", PRIORITY_FORMAT), role)


def parse_convoy(text: str) -> TripRequest:
    """Parse ``FROM_EDGE:TO_EDGE@DEPART_S:N_VEHICLES``, e.g. ``left2A2:E2right2@300:8``.

    Raises
    ------
    ConfigError
        Malformed text, negative time, or fewer than 2 / more than 200 vehicles.
    """
    edges, when = _split(text, "--convoy", CONVOY_FORMAT)
    depart, sep, count = when.partition(":")
    if not sep or not count.isdigit():
        raise ConfigError(
            f"--convoy {text!r}: give the number of vehicles after the time, as {CONVOY_FORMAT} "
            "(e.g. left2A2:E2right2@300:8)"
        )
    n = int(count)
    if not 2 <= n <= 200:
        raise ConfigError(f"--convoy {text!r}: a convoy has 2-200 vehicles, got {n}")
    return TripRequest(*edges, _time(depart, text, "--convoy", CONVOY_FORMAT), "convoy", n)


def plan_trips(
    net: Network,
    requests: Sequence[TripRequest],
    *,
    headway_s: float = CONVOY_HEADWAY_S,
    graph: RoutingGraph | None = None,
) -> tuple[tuple[PriorityTrip, ...], tuple[Route, ...]]:
    """Route every request (free flow, vehicle class ``emergency``) and name its trip.

    Single vehicles are ``ev1``, ``ev2`` ...; convoys ``convoy1`` ... (vehicles
    ``convoy1.0`` ...).

    Returns
    -------
    tuple
        The trips and their routes, in the order of ``requests``.

    Raises
    ------
    UnknownEdgeError
        An edge id is not in the network (the message suggests near ones).
    RouteError
        An edge is closed to emergency vehicles or the destination cannot be reached.
    """
    if not requests:
        raise ConfigError("no priority trip given: add --priority or --convoy")
    graph = graph if graph is not None else build_routing_graph(net, "emergency")
    trips: list[PriorityTrip] = []
    routes: list[Route] = []
    counters = {"ev": 0, "convoy": 0}
    for req in requests:
        route = fastest_route(graph, req.from_edge, req.to_edge)
        if len(route.edges) < 2:
            raise RouteError(
                f"priority trip {req.from_edge!r} -> {req.to_edge!r} never leaves its first edge; "
                "give a destination beyond a junction"
            )
        kind = "convoy" if req.vehicle_count > 1 else "ev"
        counters[kind] += 1
        trips.append(
            PriorityTrip(
                trip_id=f"{kind}{counters[kind]}",
                edges=route.edges,
                depart_s=req.depart_s,
                role=req.role,
                importance=IMPORTANCE_BY_ROLE[req.role],
                vehicle_count=req.vehicle_count,
                headway_s=headway_s,
            )
        )
        routes.append(route)
    return tuple(trips), tuple(routes)


def _split(text: str, option: str, fmt: str) -> tuple[tuple[str, str], str]:
    where, at, when = text.rpartition("@")
    edges = where.split(":")
    if not at or len(edges) != 2 or not all(edges) or not when:
        raise ConfigError(
            f"{option} {text!r} is malformed; write {fmt} with road edge ids "
            "(see `clearway network info`), e.g. left2A2:E2right2@300"
        )
    return (edges[0], edges[1]), when


def _time(value: str, text: str, option: str, fmt: str) -> float:
    try:
        t = float(value)
    except ValueError:
        raise ConfigError(
            f"{option} {text!r}: departure {value!r} is not a number of seconds; write {fmt}"
        ) from None
    if not t >= 0 or t == float("inf"):
        raise ConfigError(f"{option} {text!r}: departure must be a finite time >= 0 s, got {value}")
    return t
