"""What a trip along a route would have taken without priority: a model estimate.

The live service has no counterfactual run (the evaluation has: the same seeded traffic
with no priority). The public report needs one per request, so it is estimated from what
the network file holds, for an empty street under the signals' own programs:

``estimate_s = sum(free-flow time of each edge) + sum(expected red wait at each signal)``

- free-flow time of an edge = its length (m) / its speed limit (m/s);
- at each signal the route passes, the movement the route takes (its links from the edge in
  to the edge out) is green during some phases of the signal's default program; a vehicle
  arriving at a random moment of the cycle (length ``C`` s) waits, on average,
  ``sum(r_i ** 2) / (2 C)`` for the red (and yellow) intervals ``r_i`` of that movement —
  the first, uniform term of Webster's delay formula, with no queue in front.

Queues, other traffic and the vehicle's own stop and start are left out, so the estimate
is low: the time saved against it is a cautious figure (it understates the saving).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clearway.network.model import Network

GO = frozenset("Gg")


@dataclass(frozen=True, slots=True)
class RouteEstimate:
    """A route's no-priority estimate.

    Attributes
    ----------
    free_flow_s
        Sum of the edges' free-flow times (s).
    signal_wait_s
        Expected wait at the route's signals under their own programs (s).
    signals
        Signal ids the route passes through, in order (each once).
    """

    free_flow_s: float
    signal_wait_s: float
    signals: tuple[str, ...]

    @property
    def total_s(self) -> float:
        """Free-flow time plus expected signal wait (s)."""
        return self.free_flow_s + self.signal_wait_s


def red_wait_s(greens: Sequence[bool], durations_s: Sequence[float]) -> float:
    """Expected wait (s) of a random arrival at a movement green in the phases ``greens``.

    Red intervals are runs of phases that are not green, the last run joined to the first
    (the cycle wraps). Never green: the whole cycle, waited in full on average half of it.
    """
    cycle_s = float(sum(durations_s))
    if cycle_s <= 0:
        return 0.0
    runs: list[float] = []
    current = 0.0
    for go, d in zip(greens, durations_s, strict=True):
        if go:
            if current:
                runs.append(current)
            current = 0.0
        else:
            current += d
    if current:
        if runs and not greens[0]:
            runs[0] += current  # the red at the end runs on into the red at the start
        else:
            runs.append(current)
    return sum(r * r for r in runs) / (2.0 * cycle_s)


def estimate_route(net: Network, route: Sequence[str]) -> RouteEstimate:
    """The no-priority estimate along ``route`` (edge ids, as planned); see the module text.

    Raises
    ------
    UnknownEdgeError
        An edge of the route is not in the network.
    """
    free_s = sum(net.edge(e).length_m / max(net.edge(e).speed_mps, 0.1) for e in route)
    wait_s = 0.0
    signals: list[str] = []
    for e_in, e_out in zip(route[:-1], route[1:], strict=False):
        links = [lk for lk in net.links if lk.from_edge == e_in and lk.to_edge == e_out]
        driven = [lk for lk in links if lk.signal_id is not None and lk.signal_index >= 0]
        if not driven:
            continue
        sid = driven[0].signal_id
        assert sid is not None
        indices = [lk.signal_index for lk in driven if lk.signal_id == sid]
        program = net.traffic_light(sid).default_program
        greens = [
            any(p.state[i] in GO for i in indices if i < len(p.state)) for p in program.phases
        ]
        wait_s += red_wait_s(greens, [p.duration_s for p in program.phases])
        if sid not in signals:
            signals.append(sid)
    return RouteEstimate(free_s, wait_s, tuple(signals))


def route_estimator(net: Network):
    """A function ``route -> (estimate s, signal ids)`` for the public report, or ``None`` for
    a route that is not on ``net`` (e.g. planned on another network); cached per route."""
    from clearway.errors import UnknownIdError

    cache: dict[tuple[str, ...], tuple[float, tuple[str, ...]] | None] = {}

    def estimate(route: Sequence[str]) -> tuple[float, tuple[str, ...]] | None:
        key = tuple(route)
        if key not in cache:
            try:
                found = estimate_route(net, key)
            except UnknownIdError:
                cache[key] = None
            else:
                cache[key] = (found.total_s, found.signals)
        return cache[key]

    return estimate
