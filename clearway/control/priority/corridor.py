"""The corridor plan: for every signal ahead on a priority vehicle's route, when its green
must start, what the junction must show, and until when it must hold.

Re-computed every tick from fresh ETAs (the vehicle's latest position), the signals' observed
state and the queues the detectors report. Pure: it decides nothing and commands nothing;
the corridor controller turns plans into commands (which the guard still judges).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from clearway.control.priority.arbitration import Claim, claim_links, links_clash, priority_state
from clearway.control.priority.timing import JAM_SPACING_M, green_start_s, junction_etas
from clearway.network.model import Network
from clearway.signals.model import GREEN_CHARS, Intersection
from clearway.signals.timers import SignalTimers
from clearway.signals.transition import time_to_reach_s
from clearway.state.traffic import TrafficState


@dataclass(frozen=True, slots=True)
class JunctionPlan:
    """What one signal must do for one priority vehicle.

    Attributes
    ----------
    signal_id, junction_id
        The traffic light and the (first) junction of the route it drives; a light that
        drives several junctions of the route has one plan covering those it can serve
        together.
    claim
        The links the vehicle needs there, with the request's importance and ETA.
    core
        Of those, the vehicle's own movement (signal indices).
    target_state
        The state that serves the claim from what the signal shows now.
    eta_s
        Arrival of the vehicle (a convoy's head) at the stop line (s).
    distance_m
        Distance from the vehicle's front to the stop line (m).
    queue_m
        Longest queue on the approach lanes it may use (m); the lanes discharge side by
        side, so the longest one sets the discharge time.
    transition_s
        Time the safety rules need to reach ``target_state`` from now (s); ``inf`` if never.
    green_start_s
        Latest time the green must start: ETA − queue discharge − transition (s).
    hold_until_s
        Earliest time the hold may end without news: the vehicle (a convoy's tail) is over
        the stop line by the latest passage its last report allows, with margins (s). A report
        that puts it past the junction ends the hold sooner.
    ready_s, lane_bound
        See the fields.
    """

    signal_id: str
    junction_id: str
    claim: Claim
    core: frozenset[int]
    target_state: str
    eta_s: float
    distance_m: float
    queue_m: float
    transition_s: float
    green_start_s: float
    hold_until_s: float
    #: Time from now until the vehicle's own movement shows what ``target_state`` gives it
    #: (s): ``transition_s``, or 0 while it does already, whatever else the target changes.
    ready_s: float | None = None
    #: The claim's other movements of the one lane the vehicle must use (a turn served from
    #: one lane only): a car in front of it going one of those ways blocks it while that way
    #: is red, so they are needed as much as ``core``.
    lane_bound: frozenset[int] = frozenset()


#: The hold lasts this long after the vehicle's (a convoy's tail's) predicted passage of the
#: stop line, for ETA error (s). Once over the line it needs no green: yellow and red
#: clearance protect it inside the junction.
STOP_LINE_MARGIN_S = 1.0
#: A report with accuracy sigma places the vehicle within this many sigmas of its matched
#: place along the route: it counts as past a junction only once that far beyond it, and may
#: arrive that much earlier than the place says (one-sided 97.7 % for a normal error).
ACCURACY_SIGMAS = 2.0
#: Without a newer report, a predicted passage is trusted only after this share of the
#: report's age more (s per s): a report 10 s old predicting passage at ``t`` holds until
#: ``t + 5 s`` (plus the other margins) — the vehicle may have driven slower than planned.
#: A fresh report every tick (the exact feed) adds nothing.
AGE_MARGIN_FACTOR = 0.5


def signal_of_junction(net: Network) -> dict[str, str]:
    """Which traffic light drives each signalised junction."""
    return {j: tl.id for tl in net.traffic_lights.values() for j in tl.junction_ids}


def plan_corridor(
    net: Network,
    models: Mapping[str, Intersection],
    route: Sequence[str],
    *,
    request_id: str,
    importance: int,
    edge_id: str,
    offset_m: float,
    speed_mps: float,
    now_s: float,
    timers: Mapping[str, SignalTimers],
    traffic: TrafficState | None = None,
    pass_time_s: float = 0.0,
    junction_signals: Mapping[str, str] | None = None,
    horizon_s: float = float("inf"),
    max_distance_m: float = float("inf"),
    position_time_s: float | None = None,
    accuracy_m: float | None = None,
    whole_approach: bool = False,
) -> list[JunctionPlan]:
    """Plans for every signalised junction still ahead on ``route``, nearest first.

    Parameters
    ----------
    net, models
        The network and its intersection models.
    route
        Edge ids of the vehicle's route.
    request_id, importance
        The request, for its claims.
    edge_id, offset_m, speed_mps, now_s
        The vehicle's latest position update: edge, distance along it (m), speed (m/s), time (s).
    timers
        Observed state of every signal.
    traffic
        Detector aggregates, for the queues; none known when ``None``.
    pass_time_s
        How long after its head the vehicle's tail crosses: a convoy's length / speed (s).
    junction_signals
        :func:`signal_of_junction` of ``net`` (computed when not given).
    horizon_s, max_distance_m
        Junctions the vehicle reaches later than ``now_s + horizon_s`` (s) or farther away
        than ``max_distance_m`` (m) are not planned yet (the plan is renewed every tick).
    position_time_s
        When the vehicle is (or will be) at the position, if not ``now_s``: a planned
        departure, or when an older report was measured (s). An old report is projected
        forward along the route by its age (:func:`~clearway.control.priority.timing.junction_etas`),
        and a junction it predicts passed stays planned — arriving now at the latest — until
        that passage, the report's accuracy and :data:`AGE_MARGIN_FACTOR` of its age are over.
    accuracy_m
        The report's 1-sigma position error (m), if any: ETAs count from
        :data:`ACCURACY_SIGMAS` of it ahead of the place, passages from as far behind it.
    whole_approach
        Claim every movement of the approach, as a preemption that does not know where the
        vehicle turns must (an emitter's). Otherwise the claim is the vehicle's own movement
        plus, where detectors report a queue on one of its lanes, the other movements of that
        lane (so the queue can leave); the rest of the junction keeps running.
    """
    signals = junction_signals if junction_signals is not None else signal_of_junction(net)
    stops: dict[str, list[_Stop]] = {}
    at_s = now_s if position_time_s is None else position_time_s
    age_s = max(now_s - at_s, 0.0)
    spread_m = ACCURACY_SIGMAS * accuracy_m if accuracy_m else 0.0
    etas = junction_etas(
        net, route, edge_id, offset_m, speed_mps, at_s, now_s=now_s, spread_m=spread_m
    )
    for eta in etas:
        until_s = eta.late_s + pass_time_s + STOP_LINE_MARGIN_S + AGE_MARGIN_FACTOR * age_s
        if until_s <= now_s:
            continue  # predicted over the line, margins and all: its hold may end
        arrive_s = max(eta.eta_s, now_s)
        distance_m = max(eta.distance_m, 0.0)
        if arrive_s - now_s > horizon_s or distance_m > max_distance_m:
            break
        sid = signals.get(eta.junction_id)
        if sid is None or sid not in models or sid not in timers:
            continue
        core, links = claim_links(net, sid, eta.approach_edge, eta.next_edge)
        lane_bound: frozenset[int] = frozenset()
        lanes = sorted({lk.from_lane for lk in net.signal_links(sid) if lk.signal_index in core})
        queue_m = _longest_queue_m(traffic, lanes)
        if whole_approach:
            links = frozenset(
                lk.signal_index
                for lk in net.signal_links(sid)
                if lk.from_edge == eta.approach_edge and lk.signal_index >= 0
            )
        elif len(lanes) == 1:
            # Held to one lane (a turn served from one lane only) the vehicle cannot pass a
            # car in it that waits to go another way, and one that joins the lane beyond the
            # detector's reach would find its way red and stop in front of it: all of the
            # lane's movements are claimed, and its cars discharged as if queued already.
            lane_bound = links - core
            if traffic is not None:
                queue_m = max(queue_m, _held_lane_m(net, sid, lane_bound, timers[sid], traffic))
        elif traffic is not None:
            # With a choice of lanes it can pass such a car: another way of its lanes is
            # claimed only where a queue stands to block them all.
            links = core | _queued_links(net, sid, links - core, traffic)
        if eta.next_edge is None and queue_m <= 0.0:
            # The trip ends before this junction: it matters only if a queue standing at it
            # reaches back over the destination, and then the whole approach must discharge.
            break
        stop = _Stop(eta.junction_id, core, links, arrive_s, distance_m, queue_m, until_s,
                     lane_bound)  # fmt: skip
        group = stops.setdefault(sid, [])
        # One traffic light may drive several junctions of the route (a joined or clustered
        # signal). Their movements are served together when they can share a green; one
        # that cannot waits until the vehicle has passed the nearer ones.
        if all(not links_clash(models[sid], stop.links, g.links) for g in group):
            group.append(stop)
    plans = [
        _plan(models[sid], timers[sid], sid, group, request_id, importance, now_s)
        for sid, group in stops.items()
    ]
    return propagate_delays(sorted(plans, key=lambda p: p.eta_s), now_s)


def propagate_delays(plans: Sequence[JunctionPlan], now_s: float) -> list[JunctionPlan]:
    """Plans with arrivals pushed back behind junctions that cannot be cleared in time.

    Where the green start has already passed, the vehicle cannot reach the stop line before
    the transition and the queue discharge are done (from now); every junction after it is
    reached that much later too. Without this, a vehicle held up at its first junction would
    have the later ones turned green — and cross traffic stopped — for nothing.
    """
    out: list[JunctionPlan] = []
    delay_s = 0.0
    for plan in plans:
        lead_s = plan.eta_s - plan.green_start_s  # queue discharge + transition
        if plan.ready_s is not None and math.isfinite(plan.transition_s):
            lead_s -= plan.transition_s - plan.ready_s  # only its own movement holds it up
        eta = plan.eta_s + delay_s
        if eta - lead_s < now_s and math.isfinite(lead_s):
            late_eta = now_s + lead_s
            delay_s += late_eta - eta
            eta = late_eta
        out.append(shifted(plan, eta - plan.eta_s))
    return out


def shifted(plan: JunctionPlan, shift_s: float) -> JunctionPlan:
    """``plan`` for an arrival ``shift_s`` later (s): its green start and hold end move with it."""
    if not shift_s:
        return plan
    return replace(
        plan,
        eta_s=plan.eta_s + shift_s,
        green_start_s=plan.green_start_s + shift_s,
        hold_until_s=plan.hold_until_s + shift_s,
        claim=replace(plan.claim, eta_s=plan.claim.eta_s + shift_s),
    )


@dataclass(frozen=True, slots=True)
class _Stop:
    junction_id: str
    core: frozenset[int]
    links: frozenset[int]
    eta_s: float
    distance_m: float
    queue_m: float
    until_s: float
    lane_bound: frozenset[int] = frozenset()


def _plan(
    model: Intersection,
    timers: SignalTimers,
    sid: str,
    group: Sequence[_Stop],
    request_id: str,
    importance: int,
    now_s: float,
) -> JunctionPlan:
    core = frozenset().union(*(s.core for s in group))
    links = frozenset().union(*(s.links for s in group))
    lane_bound = frozenset().union(*(s.lane_bound for s in group))
    first = group[0]
    target = priority_state(model, links, timers.state, core=core)
    # A vehicle whose movement shows what the target gives it can go now: the rest of the
    # claim turning green later (another lane's link waiting for a yellow elsewhere) must not
    # push its arrival back, nor, through it, the hold's end and every later junction's
    # green. A permissive green ('g') the target makes protected is not yet what it needs.
    transition = time_to_reach_s(model, timers, target, now_s)
    needed = core | lane_bound
    ready = 0.0 if core and all(timers.state[i] == target[i] for i in needed) else transition
    return JunctionPlan(
        signal_id=sid,
        junction_id=first.junction_id,
        claim=Claim(request_id, sid, links, importance, first.eta_s),
        core=core,
        target_state=target,
        eta_s=first.eta_s,
        distance_m=first.distance_m,
        queue_m=max(s.queue_m for s in group),
        transition_s=transition,
        green_start_s=min(green_start_s(s.eta_s, s.queue_m, transition) for s in group),
        hold_until_s=max(s.until_s for s in group),
        ready_s=ready,
        lane_bound=lane_bound,
    )


def flush_downstream(plans: Sequence[JunctionPlan]) -> list[JunctionPlan]:
    """Plans whose greens let the queue discharged ahead of the vehicle keep moving.

    The cars queued in front of the vehicle at one junction drive ahead of it to the next; if
    that junction is still red they stop there and the vehicle is behind them again. So where
    a junction has a queue to discharge, the next junction's green starts no later than this
    one's plus the travel time between them (the difference of the vehicle's ETAs), and so on
    down the corridor.
    """
    out: list[JunctionPlan] = []
    platoon_ahead = False
    for plan in plans:
        if out and platoon_ahead:
            prev = out[-1]
            flushed = prev.green_start_s + (plan.eta_s - prev.eta_s)
            if flushed < plan.green_start_s:
                plan = replace(plan, green_start_s=flushed)
        platoon_ahead = platoon_ahead or plan.queue_m > 0.0
        out.append(plan)
    return out


def _queued_links(
    net: Network, signal_id: str, candidates: frozenset[int], traffic: TrafficState
) -> frozenset[int]:
    """Of ``candidates``, the links whose lane has a queue (or no detector to tell)."""
    out = set()
    for lk in net.signal_links(signal_id):
        if lk.signal_index in candidates:
            lane = lk.from_lane
            if not traffic.has_lane(lane) or traffic.lane(lane).queue_m > 0.0:
                out.add(lk.signal_index)
    return frozenset(out)


def _held_lane_m(
    net: Network,
    signal_id: str,
    others: frozenset[int],
    timers: SignalTimers,
    traffic: TrafficState,
) -> float:
    """Queue to plan for on the vehicle's lanes whose other movements are not green now (m).

    Every car on such a lane's detector may be going the other way; it will stop at that
    way's red in front of the priority vehicle, so the lane must discharge as if the cars
    stood in a queue already (:data:`~clearway.control.priority.timing.JAM_SPACING_M` each),
    though the detector has yet to see them halt.
    """
    longest_m = 0.0
    for lk in net.signal_links(signal_id):
        i = lk.signal_index
        if i in others and timers.state[i] not in GREEN_CHARS and traffic.has_lane(lk.from_lane):
            count = traffic.lane(lk.from_lane).vehicle_count
            longest_m = max(longest_m, count * JAM_SPACING_M)
    return longest_m


def _longest_queue_m(traffic: TrafficState | None, lanes: Sequence[str]) -> float:
    if traffic is None:
        return 0.0
    # Only the queue is needed; a detector that does not measure it (nan: loops in the
    # field) reports none.
    index = traffic._index
    queues = [float(traffic.queue_m[index[lane]]) for lane in lanes if lane in index]
    return max((q for q in queues if q == q), default=0.0)
