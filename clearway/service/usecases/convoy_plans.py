"""Use cases of convoy plans: quote a convoy booked for a departure window, confirm it, list.

A quote (``POST /convoys/plans``) plans the route, the hold window at every signal on it
(:mod:`clearway.control.priority.booking_windows`), what the holds cost cross traffic (the
detectors' cross flow x hold time, :mod:`clearway.service.plan_costs`) and which windows fall
in a demand peak, and lists the bookings it would clash with; nothing is booked. Confirming it (``POST /convoys/plans/{id}/confirm``)
checks the window and the clashes again, under the runtime's lock, and books it as a convoy
request leaving at the window's start (its ``arrival_window`` spans the window's arrivals).
Quotes, confirmations and refusals are audited (``convoy.plan.quoted``, ``.confirmed``,
``.refused``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from clearway.control.priority.booking_windows import (
    BookingConflictError,
    BookingWindowError,
    HoldWindow,
    check_window,
    find_conflicts,
)
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import (
    MAX_DURATION_S,
    ArrivalWindow,
    Convoy,
    EdgePlace,
    PriorityRequestSpec,
    Role,
)
from clearway.errors import ClearwayError
from clearway.service.auth import Permission, Principal
from clearway.service.context import ServiceContext
from clearway.service.places import ClocklessError, request_place
from clearway.service.plan_book import Plan, PlanBook
from clearway.service.plan_costs import (
    booked_passage,
    conflicts_out,
    describer,
    junctions_out,
    plan_book,
    plan_route,
    utc_of,
    window_s,
    windows_of,
)
from clearway.service.plan_schemas import (
    ConvoyPlanCreate,
    ConvoyPlanOut,
    PlanConflictOut,
)
from clearway.service.request_index import LiveRequest
from clearway.service.usecases.priority import _area_cap, _refuse, _refuse_duplicate_vehicle

#: A quote may be confirmed for this long (traffic time, s); then ask for a new one.
QUOTE_TTL_S = 900.0
#: A confirmed booking may live this long past its latest arrival before it expires (s).
BOOKING_SLACK_S = 900.0

QUOTED, CONFIRMED, REFUSED = "convoy.plan.quoted", "convoy.plan.confirmed", "convoy.plan.refused"


def quote_convoy_plan(
    ctx: ServiceContext, principal: Principal, body: ConvoyPlanCreate
) -> ConvoyPlanOut:
    """Quote a convoy booked for a departure window; nothing is booked (audited).

    Raises
    ------
    BookingWindowError
        The window is in the past, too long or too far ahead (422).
    ClocklessError
        A UTC window on a twin running as fast as it can (422).
    UnknownEdgeError, RouteError
        As for a convoy (404, 422).
    """
    runtime = ctx.require_runtime()
    now, clock = runtime.now_s(), ctx.traffic_clock()
    try:
        start_s, end_s = window_s(body, clock)
        check_window(start_s, end_s, now, describe=describer(clock))
    except (BookingWindowError, ClocklessError) as exc:
        _audit_refused(ctx, principal, None, body, str(exc))
        raise
    convoy = Convoy(
        vehicle_count=body.vehicle_count, length_m=body.length_m,
        cruise_speed_mps=body.cruise_speed_mps,
    )  # fmt: skip
    route, offset = plan_route(ctx, body)
    windows = windows_of(ctx, route, offset, start_s, end_s, convoy)
    unfinished = runtime.list()
    booked = [b for b in (booked_passage(ctx, live) for live in unfinished) if b is not None]
    conflicts = conflicts_out(ctx, find_conflicts(windows, booked), unfinished)
    junctions, source = junctions_out(ctx, windows, route, now)
    book = plan_book(ctx)
    out = ConvoyPlanOut(
        plan_id=book.new_id(), state="quoted", owner=principal.name, convoy_id=body.convoy_id,
        incident_id=body.incident_id, vehicle_count=body.vehicle_count, length_m=body.length_m,
        cruise_speed_mps=body.cruise_speed_mps, window_start_s=start_s, window_end_s=end_s,
        window_start_utc=utc_of(clock, start_s), window_end_utc=utc_of(clock, end_s),
        route=list(route), junctions=junctions,
        expected_vehicles_held=round(sum(j.expected_vehicles_held for j in junctions), 1),
        in_peak=any(j.peaks for j in junctions), conflicts=conflicts, confirmable=not conflicts,
        demand_source=source, quoted_s=now, expires_s=min(now + QUOTE_TTL_S, start_s),
    )  # fmt: skip
    book.add(Plan(out, body, start_s, end_s))
    ctx.audit.append(QUOTED, principal=principal.name, payload=_summary(out))
    return out


def _summary(out: ConvoyPlanOut) -> dict[str, Any]:
    """What the audit log keeps of a plan: ids, window, per junction window and cost,
    conflicts (no positions: there are none yet)."""
    return {
        "plan_id": out.plan_id, "convoy_id": out.convoy_id, "incident_id": out.incident_id,
        "window_s": [out.window_start_s, out.window_end_s], "route": out.route,
        "junctions": [
            {"signal_id": j.signal_id, "hold_s": [j.hold_from_s, j.hold_to_s],
             "vehicles_held": j.expected_vehicles_held, "peaks": j.peaks}
            for j in out.junctions
        ],
        "expected_vehicles_held": out.expected_vehicles_held,
        "conflicts": [
            {"booking_id": c.booking_id, "request_id": c.request_id, "signal_id": c.signal_id,
             "theirs_s": [c.theirs_from_s, c.theirs_to_s]}
            for c in out.conflicts
        ],
    }  # fmt: skip


def _audit_refused(
    ctx: ServiceContext,
    principal: Principal,
    plan_id: str | None,
    body: ConvoyPlanCreate,
    reason: str,
    conflicts: Sequence[PlanConflictOut] = (),
) -> None:
    ctx.audit.append(
        REFUSED,
        principal=principal.name,
        payload={
            "plan_id": plan_id, "convoy_id": body.convoy_id, "incident_id": body.incident_id,
            "reason": reason,
            "conflicts": [
                {"booking_id": c.booking_id, "request_id": c.request_id, "signal_id": c.signal_id,
                 "theirs_s": [c.theirs_from_s, c.theirs_to_s]}
                for c in conflicts
            ],
        },
    )  # fmt: skip


def confirm_convoy_plan(ctx: ServiceContext, principal: Principal, plan_id: str) -> ConvoyPlanOut:
    """Book a quoted plan: the owner (or an operator), while the quote is valid, if no booking
    clashes with it now; it becomes a convoy request leaving at the window's start.

    Raises
    ------
    UnknownPlanError
        No such plan in this run (404).
    PermissionDeniedError
        Not its owner nor an operator (403, audited).
    ConflictError
        Confirmed or refused already, or being confirmed (409; audited).
    BookingConflictError
        Another booking holds one of its signals in an overlapping window (409, naming the
        booking, the signal and both windows; audited, the plan is ``refused``).
    BookingWindowError
        The quote has lapsed, or its window has begun (422; the plan is ``lapsed``; audited).
    """
    ctx.require_runtime()
    book = plan_book(ctx)
    plan = book.get(plan_id)
    if plan.out.owner != principal.name and not principal.may(Permission.CANCEL_ANY_REQUEST):
        _refuse(
            ctx, principal, "/convoys/plans/{plan_id}/confirm",
            f"only the owner of {plan_id!r} or an operator may confirm it",
        )  # fmt: skip
    try:
        plan = book.claim(plan_id)
    except ClearwayError as exc:  # lapsed, confirmed, refused, or being confirmed
        _audit_refused(ctx, principal, plan_id, plan.body, str(exc))
        raise
    try:
        return _confirm(ctx, principal, plan, book)
    finally:
        book.release(plan_id)


def _confirm(
    ctx: ServiceContext, principal: Principal, plan: Plan, book: PlanBook
) -> ConvoyPlanOut:
    runtime, body, pid = ctx.require_runtime(), plan.body, plan.out.plan_id
    now, clock = runtime.now_s(), ctx.traffic_clock()
    show = describer(clock)
    try:
        if now > plan.out.expires_s:
            raise BookingWindowError(
                f"the quote {pid!r} lapsed at {show(plan.out.expires_s)} (now {show(now)}); "
                "ask for a new quote"
            )
        check_window(plan.start_s, plan.end_s, now, describe=show)
    except BookingWindowError as exc:
        book.update(pid, state="lapsed", reason=str(exc))
        _audit_refused(ctx, principal, pid, body, str(exc))
        raise
    convoy = Convoy(
        vehicle_count=body.vehicle_count, length_m=body.length_m,
        cruise_speed_mps=body.cruise_speed_mps,
    )  # fmt: skip
    net, graph = ctx.require_network(), ctx.routing_graph()
    origin = request_place(
        net, graph, "origin", body.origin_edge, body.origin_offset_m, body.origin
    )
    travel_s = sum(net.edge(e).length_m for e in plan.out.route) / convoy.cruise_speed_mps
    spec = PriorityRequestSpec(
        requester_id=body.convoy_id, role=Role.CONVOY, importance=body.importance,
        incident_id=body.incident_id, origin=origin,
        destination=request_place(net, graph, "destination", body.destination_edge, None, body.destination),
        convoy=convoy, lease_s=body.lease_s, depart_s=plan.start_s,
        arrival_window=ArrivalWindow(
            earliest_s=plan.start_s + travel_s, latest_s=plan.end_s + travel_s
        ),
        max_duration_s=min(
            MAX_DURATION_S,
            max(60.0, plan.end_s - plan.start_s + travel_s + convoy.pass_time_s + BOOKING_SLACK_S),
        ),
    )  # fmt: skip
    area = None if principal.may(Permission.CANCEL_ANY_REQUEST) else _area_cap(ctx)
    found: list[PlanConflictOut] = []
    held: list[HoldWindow] = []

    def admit(record: PriorityRequest, unfinished: list[LiveRequest]) -> None:
        # Under the runtime's lock: no other booking can slip in between check and booking.
        offset = origin.offset_m if isinstance(origin, EdgePlace) else 0.0
        windows = windows_of(ctx, record.route, offset, plan.start_s, plan.end_s, convoy)
        booked = [b for b in (booked_passage(ctx, live) for live in unfinished) if b is not None]
        clashes = find_conflicts(windows, booked)
        held[:] = windows
        if clashes:
            found.extend(conflicts_out(ctx, clashes, unfinished))
            raise BookingConflictError(_conflict_text(pid, found, show), clashes)
        if area is not None:
            area(record, unfinished)

    try:
        _refuse_duplicate_vehicle(runtime, body.convoy_id)
        live = runtime.create(spec, principal.name, detail={"plan_id": pid}, admit=admit)
    except BookingConflictError as exc:
        book.update(pid, state="refused", reason=str(exc), conflicts=found, confirmable=False)
        _audit_refused(ctx, principal, pid, body, str(exc), found)
        raise
    except ClearwayError as exc:
        _audit_refused(ctx, principal, pid, body, str(exc))
        raise
    # As booked: the windows of the route the desk planned now (the quote's may differ).
    junctions, source = junctions_out(ctx, held, live.record.route, now)
    confirmed = book.update(
        pid, state="confirmed", request_id=live.request_id, route=list(live.record.route),
        junctions=junctions, demand_source=source, in_peak=any(j.peaks for j in junctions),
        expected_vehicles_held=round(sum(j.expected_vehicles_held for j in junctions), 1),
    )  # fmt: skip
    ctx.audit.append(
        CONFIRMED, principal=principal.name, request_id=live.request_id,
        payload={**_summary(confirmed.out), "request_id": live.request_id},
    )  # fmt: skip
    return confirmed.out


def _conflict_text(
    plan_id: str, conflicts: Sequence[PlanConflictOut], show: Callable[[float], str]
) -> str:
    parts = [
        f"booking {c.booking_id!r} (request {c.request_id}, convoy {c.convoy_id!r}) holds signal "
        f"{c.signal_id!r} from {show(c.theirs_from_s)} to {show(c.theirs_to_s)}, and this plan "
        f"needs it from {show(c.ours_from_s)} to {show(c.ours_to_s)}"
        for c in conflicts
    ]
    return (
        f"convoy plan {plan_id!r} conflicts with {len(conflicts)} booked passage(s): "
        + "; ".join(parts)
        + ". Choose another window or route, or cancel the other booking first"
    )


def _as_now(out: ConvoyPlanOut, now_s: float) -> ConvoyPlanOut:
    """A quote past its time shows as ``lapsed``."""
    if out.state == "quoted" and now_s > out.expires_s:
        return out.model_copy(update={"state": "lapsed", "confirmable": False})
    return out


def list_convoy_plans(ctx: ServiceContext, state: str | None = None) -> list[ConvoyPlanOut]:
    """Every plan of this run, oldest first (of ``state`` only, if given)."""
    now = ctx.require_runtime().now_s()
    outs = [_as_now(p.out, now) for p in plan_book(ctx).all()]
    return [o for o in outs if state is None or o.state == state]


def get_convoy_plan(ctx: ServiceContext, plan_id: str) -> ConvoyPlanOut:
    """One plan (:class:`UnknownPlanError`, 404, if none)."""
    return _as_now(plan_book(ctx).get(plan_id).out, ctx.require_runtime().now_s())
