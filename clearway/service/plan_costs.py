"""What a convoy plan holds and costs: its window in traffic time, its route, the hold window
at each signal, the bookings it clashes with, and per junction the vehicles expected to wait
and the demand peaks it falls in (for :mod:`clearway.service.usecases.convoy_plans`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from clearway.control.priority.booking_windows import (
    BookedPassage,
    HoldWindow,
    WindowConflict,
    cross_lanes,
    held_vehicles,
    hold_windows,
    parse_peak_table,
    peaks_hit,
    route_signals,
    signal_clearance_s,
)
from clearway.control.priority.corridor import signal_of_junction
from clearway.control.priority.request import Convoy, EdgePlace, LonLat, Role
from clearway.control.priority.timing import queue_discharge_s
from clearway.errors import RouteError
from clearway.network.graph import edge_times_s
from clearway.network.routing import fastest_route
from clearway.network.snap import snap_lonlat
from clearway.service.clock import TrafficClock, iso_utc, utc_datetime
from clearway.service.context import ServiceContext
from clearway.service.places import ClocklessError, request_place
from clearway.service.plan_book import PlanBook
from clearway.service.plan_schemas import ConvoyPlanCreate, PlanConflictOut, PlanJunctionOut
from clearway.service.request_index import LiveRequest
from clearway.sim.detectors import DETECTOR_LENGTH_M
from clearway.state.flow_history import FlowHistory

#: The live detector reading says something about the next half hour only: a window starting
#: later is not flagged by it (s).
LIVE_HORIZON_S = 1800.0
#: A time-of-day profile counts for a window once it holds this much of it (traffic s).
MIN_HISTORY_S = 300.0


def plan_book(ctx: ServiceContext) -> PlanBook:
    """The app's convoy plans."""
    return ctx.convoy_plans


def utc_of(clock: TrafficClock | None, traffic_s: float) -> datetime | None:
    return None if clock is None else utc_datetime(clock.to_utc_s(traffic_s))


def describer(clock: TrafficClock | None) -> Callable[[float], str]:
    if clock is None:
        return lambda t: f"{t:.1f} s (traffic time)"
    return lambda t: f"{iso_utc(clock.to_utc_s(t))} ({t:.1f} s traffic time)"


def window_s(body: ConvoyPlanCreate, clock: TrafficClock | None) -> tuple[float, float]:
    """The window in traffic time (s); a UTC one needs the clock (:class:`ClocklessError`)."""
    if body.window_start_s is not None and body.window_end_s is not None:
        return body.window_start_s, body.window_end_s
    assert body.window_start is not None and body.window_end is not None  # the schema's check
    if clock is None:
        raise ClocklessError(
            "window_start/window_end: the twin runs as fast as it can (--speed 0), so its "
            "traffic time has no UTC equivalent; give window_start_s/window_end_s instead"
        )
    return clock.to_traffic_s(body.window_start), clock.to_traffic_s(body.window_end)


def plan_route(ctx: ServiceContext, body: ConvoyPlanCreate) -> tuple[tuple[str, ...], float]:
    """The route the desk would plan now (live travel times) and the origin's offset (m)."""
    net, graph = ctx.require_network(), ctx.routing_graph()
    origin = request_place(
        net, graph, "origin", body.origin_edge, body.origin_offset_m, body.origin
    )
    dest = request_place(net, graph, "destination", body.destination_edge, None, body.destination)
    (o_edge, o_off), (d_edge, d_off) = (_edge_of(ctx, p) for p in (origin, dest))
    traffic = ctx.require_runtime().last_detectors()
    times = edge_times_s(graph, net, traffic) if traffic is not None else None
    try:
        route = fastest_route(
            graph, o_edge, d_edge, edge_times_s=times, origin_offset_m=o_off,
            destination_offset_m=d_off if isinstance(dest, LonLat) else None,
        )  # fmt: skip
    except RouteError as exc:
        raise RouteError(f"origin -> destination: {exc}") from None
    return route.edges, o_off


def _edge_of(ctx: ServiceContext, place: EdgePlace | LonLat) -> tuple[str, float]:
    if isinstance(place, EdgePlace):
        return place.edge_id, place.offset_m
    edge, offset, _ = snap_lonlat(ctx.require_network(), ctx.routing_graph(), place.lon, place.lat)
    return edge, offset


def windows_of(
    ctx: ServiceContext,
    route: Sequence[str],
    origin_offset_m: float,
    start_s: float,
    end_s: float,
    convoy: Convoy,
) -> tuple[HoldWindow, ...]:
    """The convoy's hold window at each signal of ``route``: lead and trail from the signals'
    safety timings, and room for the longest queue the detectors can report on the route's
    approach (the corridor starts green that much earlier to discharge it)."""
    net = ctx.require_network()
    clearance = {sid: signal_clearance_s(ix) for sid, ix in ctx.intersections.items()}
    signals = route_signals(
        net, route, signal_of_junction(net), convoy.cruise_speed_mps, origin_offset_m
    )
    queue_s = {
        sig.signal_id: queue_discharge_s(
            min(net.edge(sig.approach_edge).length_m, DETECTOR_LENGTH_M)
        )
        for sig in signals
    }
    return hold_windows(
        signals, start_s=start_s, end_s=end_s, speed_mps=convoy.cruise_speed_mps,
        length_m=convoy.length_m, clearance_s=clearance, queue_s=queue_s,
    )  # fmt: skip


def booked_passage(ctx: ServiceContext, live: LiveRequest) -> BookedPassage | None:
    """An unfinished convoy's windows: from its planned departure over its booked window
    (its ``arrival_window``'s span; none for a convoy sent without a window)."""
    rec = live.record
    spec = rec.spec
    if spec.role is not Role.CONVOY or spec.convoy is None or rec.state.is_final or not rec.route:
        return None
    start_s = spec.depart_s if spec.depart_s is not None else rec.created_s
    aw = spec.arrival_window
    end_s = start_s + (aw.latest_s - aw.earliest_s if aw is not None else 0.0)
    origin = spec.origin
    offset = (
        origin.offset_m if isinstance(origin, EdgePlace) and origin.edge_id == rec.route[0] else 0.0
    )
    windows = windows_of(ctx, rec.route, offset, start_s, end_s, spec.convoy)
    return BookedPassage(live.request_id, windows)


def conflicts_out(
    ctx: ServiceContext, conflicts: Sequence[WindowConflict], unfinished: Sequence[LiveRequest]
) -> list[PlanConflictOut]:
    """The clashes as the API names them: the other booking by its plan id (a booking being
    confirmed right now by the plan confirming its convoy; a convoy sent without a plan, or
    taken up after a restart, by its request id), its request and convoy, both windows."""
    clock, book = ctx.traffic_clock(), plan_book(ctx)
    plan_of = {p.out.request_id: p.out.plan_id for p in book.all() if p.out.request_id}
    confirming = {p.body.convoy_id: p.out.plan_id for p in book.claimed()}
    vehicle = {live.request_id: live.record.spec.requester_id for live in unfinished}

    def booking(rid: str) -> str:
        return plan_of.get(rid) or confirming.get(vehicle.get(rid, ""), rid)

    return [
        PlanConflictOut(
            booking_id=booking(c.booking_id),
            request_id=c.booking_id,
            convoy_id=vehicle.get(c.booking_id, ""),
            signal_id=c.ours.signal_id,
            ours_from_s=c.ours.from_s,
            ours_to_s=c.ours.to_s,
            theirs_from_s=c.theirs.from_s,
            theirs_to_s=c.theirs.to_s,
            theirs_from_utc=utc_of(clock, c.theirs.from_s),
            theirs_to_utc=utc_of(clock, c.theirs.to_s),
        )  # fmt: skip
        for c in conflicts
    ]


def _cross_flow(
    flows: FlowHistory, lanes: Sequence[str], window: HoldWindow
) -> tuple[float, int, str]:
    """(cross flow in veh/h, lanes with a detector, ``history`` | ``recent`` | ``none``): the
    time-of-day profile over the window where every detected lane has
    :data:`MIN_HISTORY_S` of it, else the flow over the last 15 minutes."""
    detected = [lane for lane in lanes if flows.has_lane(lane)]
    if not detected:
        return 0.0, 0, "none"
    profile = [flows.profile_vph(lane, window.from_s, window.to_s) for lane in detected]
    if min(seen_s for _, seen_s in profile) >= MIN_HISTORY_S:
        return sum(f for f, _ in profile), len(detected), "history"
    return sum(flows.recent_vph(lane) for lane in detected), len(detected), "recent"


def junctions_out(
    ctx: ServiceContext, windows: Sequence[HoldWindow], route: Sequence[str], now_s: float
) -> tuple[list[PlanJunctionOut], str]:
    """Per signal its window, cost and peak flags; and what they were taken from."""
    net, settings, clock = ctx.require_network(), ctx.settings, ctx.traffic_clock()
    flows = ctx.require_runtime().flows
    peaks = parse_peak_table(settings.peak_table)
    threshold = settings.peak_flow_vph
    approach = {
        sig.signal_id: sig.approach_edge
        for sig in route_signals(net, route, signal_of_junction(net), speed_mps=1.0)
    }
    out = []
    for w in windows:
        lanes = cross_lanes(net, w.signal_id, approach.get(w.signal_id, ""))
        flow, detected, source = _cross_flow(flows, lanes, w)
        why = [f"peak {p.label} (CLEARWAY_PEAK_TABLE)" for p in peaks_hit(w, peaks)]
        if source == "history" and flow >= threshold:
            why.append(
                f"detector history: cross flow {flow:.0f} veh/h at this time of day >= "
                f"{threshold:.0f} veh/h (CLEARWAY_PEAK_FLOW_VPH)"
            )
        elif source == "recent" and flow >= threshold and w.from_s - now_s <= LIVE_HORIZON_S:
            why.append(
                f"cross flow over the last 15 min {flow:.0f} veh/h >= {threshold:.0f} veh/h "
                "(CLEARWAY_PEAK_FLOW_VPH; no history for this time of day yet)"
            )
        out.append(
            PlanJunctionOut(
                signal_id=w.signal_id,
                distance_m=round(w.distance_m, 1),
                hold_from_s=w.from_s,
                hold_to_s=w.to_s,
                hold_from_utc=utc_of(clock, w.from_s),
                hold_to_utc=utc_of(clock, w.to_s),
                hold_s=w.hold_s,
                cross_flow_vph=round(flow, 1),
                flow_source=source,
                detected_lanes=detected,
                expected_vehicles_held=round(held_vehicles(flow, w.hold_s), 1),
                peaks=why,
            )  # fmt: skip
        )
    source = (
        f"detectors of this run ({flows.observed_s:.0f} s of traffic time seen): cross flow "
        "is density x speed on every other detected approach, from the time-of-day profile "
        f"(15 min bins) where it holds {MIN_HISTORY_S:.0f} s of readings for the window, else "
        "the mean of the last 15 min; peaks from CLEARWAY_PEAK_TABLE "
        f"({settings.peak_table or 'not set'}) and cross flow >= {threshold:.0f} veh/h "
        f"(the last 15 min only for windows starting within {LIVE_HORIZON_S / 60:.0f} min)"
    )
    return out, source
