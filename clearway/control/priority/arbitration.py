"""Who gets a junction when several priority vehicles want it, and what the junction then shows.

A request *claims* at a junction the signal links its vehicle needs: every movement from the
approach lanes it may use towards its next edge, plus the other movements from those lanes
(a queued car ahead that turns elsewhere must be able to leave, or it blocks the vehicle).
Claims are granted in order of importance (higher first), then earlier ETA; a claim that
conflicts with one already granted is told ``watchOtherTraffic`` and waits. Two granted claims
never have conflicting links, so the state built from them never shows conflicting greens.
Pure functions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import JunctionStatus
from clearway.errors import RouteError
from clearway.network.model import Network
from clearway.signals.model import GREEN_CHARS, Intersection


@dataclass(frozen=True, slots=True)
class Claim:
    """What one request wants at one signal.

    Attributes
    ----------
    request_id
        The request.
    signal_id
        The traffic light.
    links
        Signal indices that must show green for the vehicle to pass unhindered (its own
        movement and the others from its lanes).
    importance
        J2735 importance 0-15 of the request (higher wins).
    eta_s
        When the vehicle reaches the stop line (s); earlier wins among equals.
    """

    request_id: str
    signal_id: str
    links: frozenset[int]
    importance: int
    eta_s: float


def claim_links(
    net: Network, signal_id: str, approach_edge: str, next_edge: str | None
) -> tuple[frozenset[int], frozenset[int]]:
    """Signal indices a vehicle needs at ``signal_id`` going from ``approach_edge`` to ``next_edge``.

    Returns ``(core, links)``: ``core`` are the movements onto ``next_edge``; ``links`` adds
    every other movement from the approach lanes that have one (so a queue in front of the
    vehicle can leave). With no ``next_edge`` (the route ends here) every movement from the
    approach is core.

    Raises
    ------
    RouteError
        If the traffic light drives no movement from ``approach_edge`` to ``next_edge``.
    """
    links = [lk for lk in net.signal_links(signal_id) if lk.from_edge == approach_edge]
    core = links
    if next_edge is not None:
        core = [lk for lk in links if lk.to_edge == next_edge]
        if not core:
            raise RouteError(
                f"signal {signal_id!r} drives no movement from edge {approach_edge!r} to "
                f"{next_edge!r}; the route does not pass it that way"
            )
        lanes = {lk.from_lane for lk in core}
        links = [lk for lk in links if lk.from_lane in lanes]

    def indices(ls: Iterable) -> frozenset[int]:
        return frozenset(lk.signal_index for lk in ls if lk.signal_index >= 0)

    return indices(core), indices(links)


def links_clash(model: Intersection, a: Iterable[int], b: Iterable[int]) -> bool:
    """True if any link of ``a`` is a foe of any (other) link of ``b``."""
    b = tuple(b)
    return any(i != j and model.conflicts(i, j) for i in a for j in b)


def arbitrate(
    model: Intersection, claims: Sequence[Claim], *, incumbents: Collection[str] = ()
) -> dict[str, JunctionStatus]:
    """Status per request id at one signal: ``granted`` or ``watchOtherTraffic``.

    Among equal importance, a request the signal already serves (``incumbents``) keeps it
    before an earlier ETA takes it: a green must not flip between two vehicles whose ETAs
    trade places from one tick to the next.

    Any foe relation counts as a clash here, permissive ones included: a priority vehicle gets
    a protected path, not one it has to yield on. Claims whose own links conflict with each
    other (merging movements) are still granted alone; :func:`priority_state` resolves them.
    """
    order = sorted(
        claims, key=lambda c: (-c.importance, c.request_id not in incumbents, c.eta_s, c.request_id)
    )
    granted: set[int] = set()
    out: dict[str, JunctionStatus] = {}
    for claim in order:
        if claim.signal_id != model.signal_id:
            raise ValueError(f"claim for {claim.signal_id!r} judged at {model.signal_id!r}")
        if links_clash(model, claim.links, granted):
            out[claim.request_id] = JunctionStatus.WATCH_OTHER_TRAFFIC
        else:
            granted |= claim.links
            out[claim.request_id] = JunctionStatus.GRANTED
    return out


def settle(
    verdicts: Iterable[tuple[str, Claim, frozenset[int], JunctionStatus]],
) -> tuple[dict[str, list[tuple[Claim, frozenset[int]]]], dict[str, dict[str, JunctionStatus]]]:
    """Per signal the claims granted, and per request its status at every junction, from
    each junction's verdict ``(signal id, claim, its core links, status)``.

    A vehicle told to wait at one junction reaches the ones after it later than planned: they
    are not turned green for it (cross traffic stopped for nothing) until it is granted the
    one where it waits, so a grant at a junction it reaches after one where it waits is
    ``processing`` instead.
    """
    verdicts = list(verdicts)
    waits_at: dict[str, float] = {}
    for _, claim, _, status in verdicts:
        if status is JunctionStatus.WATCH_OTHER_TRAFFIC:
            rid = claim.request_id
            waits_at[rid] = min(waits_at.get(rid, float("inf")), claim.eta_s)
    granted: dict[str, list[tuple[Claim, frozenset[int]]]] = {}
    statuses: dict[str, dict[str, JunctionStatus]] = {}
    for sid, claim, core, status in verdicts:
        rid = claim.request_id
        if status is JunctionStatus.GRANTED and claim.eta_s > waits_at.get(rid, float("inf")):
            status = JunctionStatus.PROCESSING
        statuses.setdefault(rid, {})[sid] = status
        if status is JunctionStatus.GRANTED:
            granted.setdefault(sid, []).append((claim, core))
    return granted, statuses


def reported(
    requests: Iterable[PriorityRequest],
    signals_ahead: Callable[[str], frozenset[str] | None],
    statuses: Mapping[str, Mapping[str, JunctionStatus]],
    held: Collection[tuple[str, str]],
    *,
    lingering: Collection[tuple[str, str]] = (),
) -> list[PriorityRequest]:
    """The requests whose per-junction SSM status changes, with their new statuses.

    Each junction of a live request shows this tick's verdict where there is one (``statuses``:
    request id -> signal id -> status), ``granted`` while a hold serves the request there
    (``held``: (signal id, request id) pairs), ``processing`` otherwise. Junctions the vehicle
    has passed (not in ``signals_ahead(request id)``, when that is known) are dropped, unless
    its hold there still lasts for its tail (``lingering``: (signal id, request id) pairs).
    """
    out = []
    for req in requests:
        if req.state.is_final or not req.junctions:
            continue
        rid = req.request_id
        ahead = signals_ahead(rid)
        new: dict[str, JunctionStatus] = {}
        for sid in req.junctions:
            if ahead is not None and sid not in ahead and (sid, rid) not in lingering:
                continue
            status = statuses.get(rid, {}).get(sid)
            if status is None:
                status = JunctionStatus.GRANTED if (sid, rid) in held else JunctionStatus.PROCESSING
            new[sid] = status
        if new != dict(req.junctions):
            out.append(req.with_junctions(new))
    return out


def priority_state(
    model: Intersection, links: Iterable[int], current: str, *, core: Iterable[int] = ()
) -> str:
    """The state serving ``links``: claimed links protected green, their foes red, other links
    kept green if they already are and conflict with none of them, red otherwise.

    ``core`` links (the vehicle's own movement) are placed first; a further claimed link that
    can never share a green with those already placed is left out (it only served the queue).
    A claimed link that must yield to another placed one is shown permissive (``g``), so the
    result never has conflicting greens.
    """
    core = sorted(set(core))
    placed: dict[int, str] = {}
    for i in core + sorted(set(links) - set(core)):
        c = "G"
        clash = [j for j in placed if not model.compatible(i, "G", j, placed[j])]
        if clash:
            if all(model.compatible(i, "g", j, placed[j]) for j in clash):
                c = "g"
            elif i not in core or any(not model.compatible(i, "g", j, placed[j]) for j in clash):
                continue
        placed[i] = c
    out = []
    for i, c in enumerate(current):
        if i in model.fixed_off:
            out.append(c)
        elif i in placed:
            out.append(placed[i])
        elif any(model.conflicts(i, j) for j in placed):
            out.append("r")
        else:
            out.append(c if c in GREEN_CHARS else "r")
    return "".join(out)
