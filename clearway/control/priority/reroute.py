"""Re-routing a priority vehicle on its way when a clearly faster route opens.

A route is planned at submit time from the travel times then; a street on it may jam later
(an incident, a queue spilling back) while a parallel one stays free. Every
:attr:`ReroutePolicy.check_every_s` the request book asks :func:`check_route` whether the best
route from where the vehicle is now beats the rest of its current route, both timed with the
same live edge times (:class:`clearway.network.live_times.LiveTimes`: detector speeds, and
queues charged as far as the corridor cannot flush them before the vehicle arrives,
:func:`corridor_time_s`). A switch needs all of:

* a clear gain, absolute and relative (:attr:`ReroutePolicy.min_gain_s`,
  :attr:`ReroutePolicy.min_gain_frac`): detector times are estimates, and a new route costs
  the corridor its planning so far (holds already claimed ahead are given up);
* a clearly faster route winning :attr:`ReroutePolicy.confirm_checks` checks in a row: a
  detector's last-step speed jumps with single vehicles, a jam lasts. Which turn off the
  current route is best may change from one check to the next — in a street grid several
  ways round a jam take about the same time and take turns at being fastest — so the count
  is of the gain holding, and the switch takes the best route of the last check;
* after a switch, no other switch for :attr:`ReroutePolicy.hold_down_s` unless the gain is
  large (:attr:`ReroutePolicy.hold_down_gain_frac`): a driver told to turn back and forth
  loses more than any estimate gains;
* enough road left before the next junction to turn (:attr:`ReroutePolicy.min_turn_m`);
* the new route starts on the vehicle's current edge (it cannot leave it but forward).

Pure: :func:`judge` decides on two times and the running :class:`RerouteState`;
:func:`check_route` computes the times over the routing graph and calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from clearway.errors import ClearwayError
from clearway.network.graph import RoutingGraph
from clearway.network.routing import Route, fastest_route, route_of

#: Check every this often (s): a route search per live request, not per tick; a jam that
#: matters costs tens of seconds, so 5 s of reaction is small beside it.
CHECK_EVERY_S = 5.0
#: Least gain worth a new route (s): above the spread of detector-based times on a block
#: (one light cycle's queue of a few cars is ~10 s) and above the head start the corridor
#: loses when it plans the new junctions late.
MIN_GAIN_S = 15.0
#: ... and least gain as a share of the rest of the current route: on a long trip 15 s is
#: within the estimates' error.
MIN_GAIN_FRAC = 0.10
#: Checks in a row the same new route must win (two checks: the gain held for 5 s).
CONFIRM_CHECKS = 2
#: After a switch, no other one for this long (s) ...
HOLD_DOWN_S = 60.0
#: ... unless it gains this share of the remaining time (a second incident, not noise).
HOLD_DOWN_GAIN_FRAC = 0.50
#: Closer than this to the end of its edge (m), the vehicle keeps its route: too late to
#: change lanes and brake for a turn (about 3.5 s at 50 km/h).
MIN_TURN_M = 50.0


class RerouteError(ClearwayError):
    """A re-routing setting that cannot work (e.g. a negative threshold)."""


@dataclass(frozen=True, slots=True)
class ReroutePolicy:
    """When a live request's vehicle is given a new route (see the module docstring).

    Attributes
    ----------
    check_every_s, min_gain_s, hold_down_s, min_turn_m
        Check period (s), least absolute gain (s), hold-down after a switch (s), least road
        left on the edge to turn (m).
    min_gain_frac, hold_down_gain_frac
        Least gain as a share of the current route's remaining time, normally and within the
        hold-down (0-1).
    confirm_checks
        Consecutive checks the same new route must win (>= 1).
    """

    check_every_s: float = CHECK_EVERY_S
    min_gain_s: float = MIN_GAIN_S
    min_gain_frac: float = MIN_GAIN_FRAC
    confirm_checks: int = CONFIRM_CHECKS
    hold_down_s: float = HOLD_DOWN_S
    hold_down_gain_frac: float = HOLD_DOWN_GAIN_FRAC
    min_turn_m: float = MIN_TURN_M

    def __post_init__(self) -> None:
        bad = [
            f"{name}={getattr(self, name)}"
            for name in ("check_every_s", "min_gain_s", "min_gain_frac", "hold_down_s",
                         "hold_down_gain_frac", "min_turn_m")  # fmt: skip
            if not getattr(self, name) >= 0
        ]
        if self.confirm_checks < 1:
            bad.append(f"confirm_checks={self.confirm_checks}")
        if bad:
            raise RerouteError(
                f"re-routing settings must be non-negative (confirm_checks >= 1): {', '.join(bad)}"
            )


@dataclass(frozen=True, slots=True)
class RerouteState:
    """What re-routing remembers of one request between checks.

    Attributes
    ----------
    last_check_s
        When it was last checked (s).
    candidate
        The turn off the current route of the best other route when it last won (the last
        shared edge and the first new one), and ``streak`` how many checks in a row it did.
    switched_s, switches
        When it last switched (s) and how many times it has.
    """

    last_check_s: float = -np.inf
    candidate: tuple[str, ...] = ()
    streak: int = 0
    switched_s: float = -np.inf
    switches: int = 0

    def due(self, policy: ReroutePolicy, now_s: float) -> bool:
        """True when the next check is due."""
        return now_s - self.last_check_s >= policy.check_every_s - 1e-9


@dataclass(frozen=True, slots=True)
class RerouteDecision:
    """The outcome of one check.

    Attributes
    ----------
    state
        The request's re-routing state after the check.
    route
        The new route from the vehicle's place when it switches, else ``None``.
    current_s, best_s
        Remaining time of the current route and of the best one from the same place, under
        the same live edge times (s; nan when not computed).
    reason
        Why (a sentence for the request's history when it switches).
    """

    state: RerouteState
    route: Route | None
    current_s: float
    best_s: float
    reason: str

    @property
    def gain_s(self) -> float:
        """Time the new route saves (s)."""
        return self.current_s - self.best_s


def judge(
    policy: ReroutePolicy,
    state: RerouteState,
    now_s: float,
    current_s: float,
    best_s: float,
    candidate: tuple[str, ...],
) -> tuple[RerouteState, bool, str]:
    """The hysteresis: whether the best route (``candidate``: its turn off the current
    route, ``()`` when it is the current one; ``best_s``) replaces the current one
    (``current_s``), both from the same place and under the same edge times (s).

    Returns
    -------
    (RerouteState, bool, str)
        The new state, whether to switch now, and why.
    """
    gain = current_s - best_s
    frac = gain / current_s if current_s > 0 else 0.0
    held = now_s - state.switched_s < policy.hold_down_s
    need_frac = max(policy.min_gain_frac, policy.hold_down_gain_frac if held else 0.0)
    checked = replace(state, last_check_s=now_s)
    if not candidate or gain < policy.min_gain_s or frac < need_frac:
        why = (
            f"no clearly faster route ({gain:.0f} s, {100 * frac:.0f} % faster; needs "
            f"{policy.min_gain_s:.0f} s and {100 * need_frac:.0f} %"
            + (", just switched)" if held else ")")
        )
        return replace(checked, candidate=(), streak=0), False, why
    # The gain, not one particular way round, must last (see the module docstring).
    streak = state.streak + 1 if state.candidate else 1
    if streak < policy.confirm_checks:
        return replace(checked, candidate=candidate, streak=streak), False, (
            f"{gain:.0f} s faster, to be confirmed ({streak}/{policy.confirm_checks})"
        )
    switched = RerouteState(now_s, (), 0, now_s, state.switches + 1)
    return switched, True, f"{gain:.0f} s faster ({best_s:.0f} s instead of {current_s:.0f} s)"


def check_route(
    policy: ReroutePolicy,
    state: RerouteState,
    graph: RoutingGraph,
    route: tuple[str, ...],
    edge_id: str,
    offset_m: float,
    now_s: float,
    edge_times_s: np.ndarray,
    queue_s: np.ndarray | None = None,
) -> RerouteDecision:
    """One check of a vehicle at ``offset_m`` (m) on ``edge_id`` of its ``route``.

    Parameters
    ----------
    policy, state
        The settings and the request's state so far.
    graph
        The routing graph of the vehicle's class.
    route
        The request's current route (edge ids; ``edge_id`` must be on it).
    edge_id, offset_m
        The vehicle's road edge and its distance from the edge's start (m).
    now_s
        The time of the check (s).
    edge_times_s
        Live travel time per graph node (s), e.g. :attr:`LiveTimes.times_s
        <clearway.network.live_times.LiveTimes>`; with ``queue_s``, the run alone
        (:attr:`~clearway.network.live_times.LiveTimes.run_s`).
    queue_s
        Discharge time of the queue at each edge's end (s). Under a corridor a queue ahead is
        flushed before the vehicle arrives where there is time for it: a route is charged only
        what of each queue's discharge is left at the vehicle's ETA there
        (:func:`corridor_time_s`); the route searched for is the fastest by runs.

    Returns
    -------
    RerouteDecision
        ``route`` set when the vehicle is to take a new one (its first edge is ``edge_id``).
    """
    checked = replace(state, last_check_s=now_s)
    nan = float("nan")
    if edge_id not in route:
        return RerouteDecision(checked, None, nan, nan, f"vehicle is off its route ({edge_id!r})")
    k = graph.index.get(edge_id)
    length = float(graph.length_m[k]) if k is not None else 0.0
    offset = min(max(offset_m, 0.0), length)
    if length - offset < policy.min_turn_m:
        # Too late to turn: the candidate's streak waits for the next edge.
        return RerouteDecision(checked, None, nan, nan, "too close to the junction to turn")
    rest = route[route.index(edge_id):]
    current = route_of(graph, rest, edge_times_s=edge_times_s, origin_offset_m=offset)
    best = fastest_route(
        graph, edge_id, rest[-1], edge_times_s=edge_times_s, origin_offset_m=offset
    )
    if queue_s is not None:
        current = replace(current, travel_time_s=corridor_time_s(graph, current, queue_s))
        best = replace(best, travel_time_s=corridor_time_s(graph, best, queue_s))
    if best.edges[0] != edge_id or best.edges == rest:
        # The search starts on the vehicle's edge; a route elsewhere would need a teleport.
        new_state, _, why = judge(policy, state, now_s, current.travel_time_s,
                                  current.travel_time_s, ())  # fmt: skip
        return RerouteDecision(new_state, None, current.travel_time_s, best.travel_time_s, why)
    new_state, switch, why = judge(
        policy, state, now_s, current.travel_time_s, best.travel_time_s, _turn(rest, best.edges)
    )
    if switch:
        why = f"rerouted: {why} via {_via(rest, best.edges)}"
    return RerouteDecision(
        new_state, best if switch else None, current.travel_time_s, best.travel_time_s, why
    )


def corridor_time_s(graph: RoutingGraph, route: Route, queue_s: np.ndarray) -> float:
    """Time of ``route`` (timed by runs) for a vehicle a corridor clears the way for (s): plus,
    at each junction, the part of its queue's discharge (``queue_s`` per graph node, s) that
    does not fit before the vehicle's ETA there — the corridor starts a queue moving that
    long before the vehicle arrives, if it can."""
    late = [
        max(float(queue_s[graph.index[e]]) - eta_s, 0.0)
        for e, eta_s in zip(route.edges[:-1], route.end_times_s, strict=False)
    ]
    return route.travel_time_s + sum(late)


def _turn(rest: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    """Where ``new`` leaves ``rest`` (both start on the vehicle's edge): the last shared edge
    and the first new one."""
    k = _shared(rest, new)
    return (new[k - 1], new[k]) if 0 < k < len(new) else tuple(new[:1])


def _shared(rest: tuple[str, ...], new: tuple[str, ...]) -> int:
    k = 0
    while k < min(len(rest), len(new)) and rest[k] == new[k]:
        k += 1
    return k


def _via(rest: tuple[str, ...], new: tuple[str, ...]) -> str:
    """The first edges where the new route leaves the old one (for the history)."""
    k = _shared(rest, new)
    part = new[k : k + 3]
    return " → ".join(part) + (" …" if k + 3 < len(new) else "")
