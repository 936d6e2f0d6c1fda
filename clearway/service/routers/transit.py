"""``/transit``: a transit operator feeds its buses; clearway may give a late bus a green
extension or an early green, never preemption.

* ``POST /transit/gtfs-rt``: a GTFS-realtime ``FeedMessage`` (protobuf body, Content-Type
  ``application/x-protobuf``): TripUpdates' delays, VehiclePositions stopped at a stop, and
  VehiclePositions' lat/lon map matched onto their trip's line (refused per bus, with a
  reason, when stale, from the future or off the line).
* ``POST /transit/positions``: bus positions on the network (edge, offset, speed, trip id).
* ``GET /transit/status``: whether a schedule is configured and the live loop acts on it.
* ``GET /transit/buses``: the buses heard of recently, how late each runs, whether it is late
  enough to be served (``CLEARWAY_TRANSIT_LATE_THRESHOLD_S``, default 60 s).

Both feeds need the ``transit.feed`` permission (dispatchers, operators and the ``transit``
role, which may do nothing else), are rate-limited
like priority positions, and every accepted or refused feed is audited (``transit.feed``:
counts, trip ids and delays, refused buses and why; no position). The schedule comes from ``CLEARWAY_GTFS_DIR``
(503 while none is configured). With a live runtime on the twin that acts on the feed, feed
times (UTC) are turned into the twin's traffic time with the runtime's clock (503 while it
has none: before its first tick, or at speed 0).
"""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from clearway.control.priority.bus_board import BusReport
from clearway.errors import ServiceUnavailableError
from clearway.service.auth import Permission, Principal, require
from clearway.service.clock import FIELD_CLOCK, TrafficClock
from clearway.service.context import ServiceContext, get_context
from clearway.service.transit_feed import TransitDesk, load_desk

router = APIRouter(prefix="/transit", tags=["transit"])
_feed = require(Permission.FEED_TRANSIT, rate="positions")
_read = require(Permission.READ)
FEED_KIND = "transit.feed"
_LOAD = threading.Lock()
_Frozen = ConfigDict(frozen=True, extra="forbid")
_Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:#\-]+$")]


class BusPositionIn(BaseModel):
    """One bus's position: its fleet number, trip, where it is on the network, when."""

    model_config = _Frozen
    vehicle_id: _Id
    trip_id: _Id
    time_s: Annotated[float, Field(ge=0.0, allow_inf_nan=False, description="UTC, unix seconds")]
    edge_id: Annotated[str, Field(min_length=1, max_length=256)]
    offset_m: Annotated[float, Field(ge=0.0, le=100000.0, allow_inf_nan=False)]
    speed_mps: Annotated[float, Field(ge=0.0, le=40.0, allow_inf_nan=False)]


class BusPositionsIn(BaseModel):
    """Up to 500 bus positions."""

    model_config = _Frozen
    positions: Annotated[list[BusPositionIn], Field(min_length=1, max_length=500)]


class TripLateness(BaseModel):
    """How late a trip or bus runs (s, positive = late; ``None``: off its line) and whether
    that is late enough for a green extension or an early green."""

    id: str
    lateness_s: float | None
    qualifies: bool


class RefusedPositionOut(BaseModel):
    """A bus position not taken, and why: ``stale``, ``future``, ``early`` (before the twin's
    clock began), ``off_line``, ``no_lane``, ``no_geo``, ``no_network``, ``no_line``,
    ``bad_id``, ``bad_position``."""

    vehicle_id: str
    trip_id: str
    reason: str
    detail: str


class TransitFeedOut(BaseModel):
    """What a feed changed: per trip (or bus) its lateness, trip ids not in the schedule, and
    (GTFS-realtime) the buses placed from their positions, the positions refused, and those
    not newer than the bus's last (ignored)."""

    accepted: int
    lateness: list[TripLateness]
    unknown_trips: list[str] = []
    positions: int = 0
    refused: list[RefusedPositionOut] = []
    repeated: int = 0


class LastPriority(BaseModel):
    """The last green moved for a bus: junction, ``extend`` or ``early``, by how much (s),
    when (UTC, unix s)."""

    junction_id: str
    action: str
    moved_s: float
    time_s: float


class BusOut(BaseModel):
    """A bus heard of recently."""

    vehicle_id: str
    trip_id: str | None = None
    line_id: str | None = None
    edge_id: str
    lateness_s: float
    dwelling: bool
    qualifies: bool
    last_priority: LastPriority | None = None


class TransitStatusOut(BaseModel):
    """Whether transit priority is set up here."""

    configured: bool = Field(description="a GTFS schedule is configured (CLEARWAY_GTFS_DIR)")
    live: bool = Field(description="the live control loop acts on the bus feed")
    late_threshold_s: float = Field(description="a bus later than this qualifies (s)")


def desk_of(ctx: ServiceContext) -> TransitDesk:
    """The service's transit desk, loaded from ``CLEARWAY_GTFS_DIR`` on first use (503 if
    none is configured)."""
    with _LOAD:
        live = ctx.runtime.transit if ctx.runtime is not None else None
        if ctx.transit is None and live is not None:
            ctx.transit = live  # the desk the live control loop reads
            if ctx.network is not None:
                live.attach_network(ctx.network)  # GTFS-realtime positions are matched on it
        if ctx.transit is None:
            # Traffic time is UTC here: service days are the agency's local days.
            ctx.transit = load_desk(
                ctx.settings.gtfs_dir, None, ctx.settings.transit_late_threshold_s,
                net=ctx.network, fix_tolerance_s=ctx.settings.clock_tolerance_s,
            )  # fmt: skip
        return ctx.transit


def clock_of(ctx: ServiceContext, desk: TransitDesk) -> TrafficClock:
    """UTC to the desk's time: the runtime's traffic clock for the desk the live loop reads,
    else the identity (the desk counts in UTC).

    Raises
    ------
    ServiceUnavailableError
        The live twin has no UTC time yet (before its first tick) or none at all (speed 0).
    """
    runtime = ctx.runtime
    if runtime is None or runtime.transit is not desk:
        return FIELD_CLOCK
    clock = runtime.traffic_clock()
    if clock is None:
        raise ServiceUnavailableError(
            "the live twin has no UTC clock yet (it has not ticked, or runs as fast as it can: "
            "speed 0), and bus feeds carry UTC times; run it at a real-time speed and retry"
        )
    return clock


def _qualifies(desk: TransitDesk, late: float | None) -> bool:
    return late is not None and late > desk.settings.late_threshold_s


@router.post("/gtfs-rt", response_model=TransitFeedOut)
async def gtfs_realtime(
    request: Request,
    principal: Principal = Depends(_feed),
    ctx: ServiceContext = Depends(get_context),
) -> TransitFeedOut:
    """Take a GTFS-realtime FeedMessage (protobuf body): each TripUpdate's delay, each
    VehiclePosition stopped at a stop measured against the schedule, and each
    VehiclePosition's lat/lon matched onto its trip's line, a bus position like those of
    ``/transit/positions``. A position that cannot be used is refused for that bus (``refused``,
    with the reason), the rest are taken. 400 for a body that is not a FeedMessage (audited)."""
    body = await request.body()
    desk = desk_of(ctx)
    try:
        got = await run_in_threadpool(desk.feed, body, time.time(), clock_of(ctx, desk))
    except Exception as exc:
        await run_in_threadpool(
            ctx.audit.append, FEED_KIND, principal=principal.name,
            payload={"format": "gtfs-rt", "refused": str(exc)[:200]},
        )  # fmt: skip
        raise
    delays, unknown = got.delays, got.unknown
    out = [
        TripLateness(id=d.trip_id, lateness_s=d.delay_s, qualifies=_qualifies(desk, d.delay_s))
        for d in delays
    ] + [TripLateness(id=vid, lateness_s=x, qualifies=_qualifies(desk, x)) for vid, x in got.placed]
    accepted = len(delays) + len(got.placed)
    payload = {"format": "gtfs-rt", "accepted": accepted, "unknown_trips": unknown[:50],
               "delays_s": {d.trip_id: d.delay_s for d in delays[:200]},
               "positions": len(got.placed), "repeated": got.repeated,
               "lateness_s": {vid: x for vid, x in got.placed[:200]},
               # the reason only: the detail may name distances, never coordinates, but the
               # audit keeps what it needs (PRIVACY.md)
               "refused_positions": {r.vehicle_id: r.reason for r in got.refused[:200]}}  # fmt: skip
    await run_in_threadpool(ctx.audit.append, FEED_KIND, principal=principal.name, payload=payload)
    return TransitFeedOut(
        accepted=accepted, lateness=out, unknown_trips=unknown, positions=len(got.placed),
        refused=[RefusedPositionOut(vehicle_id=r.vehicle_id, trip_id=r.trip_id, reason=r.reason,
                                    detail=r.detail) for r in got.refused],
        repeated=got.repeated,
    )  # fmt: skip


@router.post("/positions", response_model=TransitFeedOut)
def bus_positions(
    body: BusPositionsIn,
    principal: Principal = Depends(_feed),
    ctx: ServiceContext = Depends(get_context),
) -> TransitFeedOut:
    """Take bus positions on the network with their trips: each bus's lateness against the
    schedule at its place. 400 naming an unknown trip (nothing taken; audited)."""
    desk = desk_of(ctx)
    reports = [
        (p.vehicle_id, BusReport(p.trip_id, p.edge_id, p.offset_m, p.speed_mps, p.time_s))
        for p in body.positions
    ]
    try:
        late = desk.positions(reports, clock_of(ctx, desk))
    except Exception as exc:
        ctx.audit.append(FEED_KIND, principal=principal.name,
                         payload={"format": "positions", "refused": str(exc)[:200]})  # fmt: skip
        raise
    out = [
        TripLateness(id=vid, lateness_s=x, qualifies=_qualifies(desk, x))
        for (vid, _), x in zip(reports, late, strict=True)
    ]
    ctx.audit.append(
        FEED_KIND, principal=principal.name,
        payload={"format": "positions", "accepted": len(out),
                 "lateness_s": {o.id: o.lateness_s for o in out[:200]}},
    )  # fmt: skip
    return TransitFeedOut(accepted=len(out), lateness=out)


@router.get("/status", response_model=TransitStatusOut)
def status(
    _p: Principal = Depends(_read),
    ctx: ServiceContext = Depends(get_context),
) -> TransitStatusOut:
    """Whether a GTFS schedule is configured and whether the live loop acts on the feed (never
    503: the dashboard asks before it reads the buses)."""
    live = ctx.runtime.transit if ctx.runtime is not None else None
    desk = ctx.transit or live
    threshold = (
        desk.settings.late_threshold_s if desk is not None
        else ctx.settings.transit_late_threshold_s
    )  # fmt: skip
    return TransitStatusOut(
        configured=desk is not None or bool(ctx.settings.gtfs_dir),
        live=live is not None,
        late_threshold_s=threshold,
    )


@router.get("/buses", response_model=list[BusOut])
def buses(
    _p: Principal = Depends(_read),
    ctx: ServiceContext = Depends(get_context),
) -> list[BusOut]:
    """The buses heard of in the last 30 s: trip, line, edge, lateness, dwelling, whether it
    qualifies, and the last green moved for it."""
    desk = desk_of(ctx)
    return [BusOut(**b) for b in desk.buses(time.time(), clock_of(ctx, desk))]
