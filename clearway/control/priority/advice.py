"""Arrival advice for a priority vehicle that must let another one through first.

Two emergency vehicles whose routes cross at one junction within seconds of each other cannot
both have green there: the first's movement must end, go through its yellow and red
clearance, before the second's may start. Arbitration decides who goes first (importance,
then arrival); the other, driven at full speed, would reach a red stop line and stop. It need
not, where there is road enough: slowed in time to arrive just as its green starts, it keeps
rolling. This module works out that advice from the corridor plans — when the vehicle's green
can start at the latest clashing junction, and the speed that gets it there then — and the
reason, for the vehicle's display and the audit log. Pure functions; times in s, speeds in m/s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from clearway.control.priority.arbitration import links_clash
from clearway.control.priority.corridor import JunctionPlan, shifted
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.signals.model import Intersection

#: Slowest speed advised (m/s, 18 km/h): below it the vehicle might as well stop at the line,
#: and a crawling emergency vehicle is a hazard of its own.
MIN_ADVISED_SPEED_MPS = 5.0
#: The advised arrival lies this long after the green start, for ETA error (s).
ADVICE_MARGIN_S = 1.0


@dataclass(frozen=True, slots=True)
class ArrivalAdvice:
    """Advice to one priority vehicle: arrive at a junction no earlier than a time.

    Attributes
    ----------
    request_id
        The request advised.
    signal_id
        The junction where it must let another vehicle through first.
    yields_to
        The request that goes first there.
    green_from_s
        Earliest time its green can start there: the other's hold ends, then the other's
        yellow and red clearance (s).
    arrive_after_s
        Advised arrival at the stop line (s): the green start plus the queue discharge and
        :data:`ADVICE_MARGIN_S`.
    distance_m
        Distance to that stop line when advised (m).
    speed_mps
        Speed that arrives then (m/s), never below :data:`MIN_ADVISED_SPEED_MPS`; ``None``
        when even that is too fast — a stop cannot be avoided.
    reason
        Why, in words: who goes first, their importance and arrival against this one's.
    """

    request_id: str
    signal_id: str
    yields_to: str
    green_from_s: float
    arrive_after_s: float
    distance_m: float
    speed_mps: float | None
    reason: str


def arrival_advice(
    plans: Mapping[str, Sequence[JunctionPlan]],
    models: Mapping[str, Intersection],
    now_s: float,
    latency_s: Mapping[str, float] | None = None,
) -> dict[str, ArrivalAdvice]:
    """Advice per request id, for every request that must let another through first.

    Parameters
    ----------
    plans
        Per request id its corridor plans (:func:`~clearway.control.priority.corridor.plan_corridor`).
    models
        The intersection model per signal id.
    now_s
        Time now (s).
    latency_s
        Per signal id, how much later than a link state set directly a change it is told
        takes effect (s; a field controller acts on phase controls at its next step). None
        for signals not named.

    Returns
    -------
    dict
        Only requests that would reach a junction before their green can start there; where
        several junctions hold a request back, the one that delays it most.
    """
    by_signal: dict[str, list[JunctionPlan]] = {}
    for ps in plans.values():
        for p in ps:
            by_signal.setdefault(p.signal_id, []).append(p)
    out: dict[str, ArrivalAdvice] = {}
    delay_s: dict[str, float] = {}
    for sid, at in by_signal.items():
        model = models.get(sid)
        if model is None or len(at) < 2:
            continue
        # The arbitration's order: importance, then arrival.
        order = sorted(at, key=lambda p: (-p.claim.importance, p.eta_s, p.claim.request_id))
        for k, p in enumerate(order[1:], start=1):
            advice = _behind(model, p, order[:k], now_s, (latency_s or {}).get(sid, 0.0))
            rid = p.claim.request_id
            if advice is not None and advice.arrive_after_s - p.eta_s > delay_s.get(rid, 0.0):
                out[rid], delay_s[rid] = advice, advice.arrive_after_s - p.eta_s
    return out


def change_s(model: Intersection, ending: Iterable[int], starting: Iterable[int]) -> float:
    """Yellow plus red clearance of the ``ending`` links that conflict with a ``starting``
    one: how long after the first movement's green ends the second's may start (s)."""
    starting = tuple(starting)
    t = model.timings
    return max(
        (
            t[i].yellow_s + t[i].clearance_s
            for i in ending
            if any(i != j and model.conflicts(i, j) for j in starting)
        ),
        default=0.0,
    )


def _behind(
    model: Intersection,
    plan: JunctionPlan,
    first: Sequence[JunctionPlan],
    now_s: float,
    latency_s: float = 0.0,
) -> ArrivalAdvice | None:
    """Advice for ``plan`` behind the plans that go ``first`` at its junction, if any clash
    with it in time (``latency_s``: how late the signal acts on a change, s)."""
    discharge_s = plan.eta_s - plan.green_start_s - plan.transition_s
    green_from_s = float("-inf")
    winner: JunctionPlan | None = None
    for q in first:
        if not links_clash(model, plan.claim.links, q.claim.links):
            continue
        free_s = q.hold_until_s + latency_s + change_s(model, q.claim.links, plan.claim.links)
        # Only a vehicle that would need its green while the other still holds (or is
        # clearing) waits; one through before the other's green starts is not delayed.
        back_s = change_s(model, plan.claim.links, q.claim.links)
        if plan.hold_until_s + back_s <= q.green_start_s:
            continue
        if free_s > green_from_s:
            green_from_s, winner = free_s, q
    if winner is None:
        return None
    arrive_after_s = green_from_s + max(discharge_s, 0.0) + ADVICE_MARGIN_S
    if arrive_after_s <= plan.eta_s:
        return None  # it arrives after its green starts anyway
    left_s = arrive_after_s - now_s
    speed = plan.distance_m / left_s if left_s > 0 else float("inf")
    reason = (
        f"lets {winner.claim.request_id} (importance {winner.claim.importance}, at the "
        f"junction in {winner.eta_s - now_s:.0f} s) through first at {plan.signal_id}: this "
        f"vehicle (importance {plan.claim.importance}, in {plan.eta_s - now_s:.0f} s) gets "
        f"green there from {green_from_s - now_s:.0f} s"
    )
    return ArrivalAdvice(
        request_id=plan.claim.request_id,
        signal_id=plan.signal_id,
        yields_to=winner.claim.request_id,
        green_from_s=green_from_s,
        arrive_after_s=arrive_after_s,
        distance_m=plan.distance_m,
        speed_mps=speed if speed >= MIN_ADVISED_SPEED_MPS else None,
        reason=reason,
    )


def advised(
    requests: Iterable[PriorityRequest], advice: Mapping[str, ArrivalAdvice]
) -> list[PriorityRequest]:
    """The live requests whose advice changes, with their new advice (a final request has
    none). Only a change that matters to the driver counts: where, behind whom, whether a stop
    is avoidable, or the advised speed by 1 m/s or more."""
    out = []
    for req in requests:
        new = None if req.state.is_final else advice.get(req.request_id)
        if _gist(new) != _gist(req.advice):
            out.append(req.with_advice(new))
    return out


def _gist(a: ArrivalAdvice | None) -> tuple | None:
    if a is None:
        return None
    return (a.signal_id, a.yields_to, None if a.speed_mps is None else round(a.speed_mps))


def slowed(
    plans: Sequence[JunctionPlan], advice: ArrivalAdvice | None, now_s: float
) -> list[JunctionPlan]:
    """``plans`` for a vehicle that follows ``advice``: it drives at the advised speed up to
    the advised junction and arrives everywhere after it that much later, so no green is
    started (and no cross traffic stopped) for an arrival that will not come then.

    Advice is worked out from the full-speed plans; only the holds use these.
    """
    if advice is None or advice.speed_mps is None:
        return list(plans)
    at = next((p for p in plans if p.signal_id == advice.signal_id), None)
    if at is None:
        return list(plans)
    shift_s = max(advice.arrive_after_s - at.eta_s, 0.0)
    out = []
    for p in plans:
        if p.distance_m <= at.distance_m:
            eta = max(now_s + p.distance_m / advice.speed_mps, p.eta_s)
        else:
            eta = p.eta_s + shift_s
        out.append(shifted(p, eta - p.eta_s))
    return out
