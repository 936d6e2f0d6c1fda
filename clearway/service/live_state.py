"""Building the published :class:`~clearway.service.live_view.LiveView` from a wired run, and
the live state of one junction.

Called by the runtime under its lock after each tick; the result is immutable and read
without the lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from clearway.bootstrap import WiredRun
from clearway.control.priority.request import EdgePlace, LonLat, PositionUpdate
from clearway.errors import ClearwayError
from clearway.network.geo import lonlat_to_xy
from clearway.network.geometry import edge_point
from clearway.service.live_view import LiveView, RequestView, VehicleView
from clearway.service.request_index import LiveRequest
from clearway.state.traffic import TrafficState

#: Finished requests the view keeps (the most recent ones), for "recent requests" panels.
RECENT_FINISHED = 50


def request_view(live: LiveRequest) -> RequestView:
    """The feed's view of one request: per junction status (``recovering`` included) and ETA."""
    rec = live.record
    junctions = {sid: status.value for sid, status in rec.junctions.items()}
    for sid in live.recovering:
        junctions.setdefault(sid, "recovering")
    return RequestView(
        request_id=live.request_id,
        vehicle_id=rec.spec.requester_id,
        owner=live.owner,
        role=rec.spec.role.value,
        incident_id=rec.spec.incident_id,
        state=rec.state.value,
        route=tuple(rec.route),
        junctions=junctions,
        etas_s=dict(live.etas_s or {}),
        simulated=live.simulated,
        flag=live.flag,
        pass_time_s=rec.spec.convoy.pass_time_s if rec.spec.convoy is not None else 0.0,
    )


def vehicle_view(wired: WiredRun, vehicle_id: str, update: PositionUpdate) -> VehicleView | None:
    """Where a priority vehicle is drawn; ``None`` for a place off the network's road edges
    (inside a junction: the next road position shows it). A GPS fix is drawn where it is
    (its ``edge_id`` empty: matching it to an edge is the controller's business)."""
    place = update.place
    if isinstance(place, LonLat):
        try:
            x, y = lonlat_to_xy(wired.net.geo, place.lon, place.lat)
        except ClearwayError:  # no geo-reference: the service refused such a position
            return None
        return VehicleView(vehicle_id, "", 0.0, x, y, update.speed_mps, update.time_s)
    if not isinstance(place, EdgePlace) or place.edge_id.startswith(":"):
        return None
    try:
        x, y = edge_point(wired.net, place.edge_id, place.offset_m)
    except ClearwayError:
        return None
    return VehicleView(
        vehicle_id, place.edge_id, place.offset_m, x, y, update.speed_mps, update.time_s
    )


def build_view(
    version: int,
    wired: WiredRun,
    positions: Mapping[str, PositionUpdate],
    requests: Sequence[LiveRequest],
    *,
    running: bool,
    error: str | None,
    tick_ms: float,
    flush_failures: int,
    lanes: Mapping[str, float] | None = None,
) -> LiveView:
    """The view after a tick (``lanes``: :func:`lane_fill` of the last detector reading)."""
    views = [request_view(r) for r in requests]
    finished = [v for v in views if v.state in ("completed", "cancelled", "expired", "rejected")]
    dropped = {v.request_id for v in finished[:-RECENT_FINISHED]}
    vehicles = {}
    for vid, update in positions.items():
        shown = vehicle_view(wired, vid, update)
        if shown is not None:
            vehicles[vid] = shown
    desk = wired.priority
    return LiveView(
        version=version,
        time_s=wired.twin.now_s(),
        running=running,
        error=error,
        signals=dict(wired.twin.read_signal_states()),
        strategies=wired.normal_control.assignment if wired.normal_control is not None else {},
        held=getattr(desk, "held", frozenset()),
        recovering=getattr(desk, "recovering", frozenset()),
        vehicles=vehicles,
        requests={v.request_id: v for v in views if v.request_id not in dropped},
        tick_ms=tick_ms,
        flush_failures=flush_failures,
        lanes=lanes or {},
    )


#: Lane occupancy is shown in steps of this share: finer steps would only make the feed chatty.
FILL_STEP = 0.05


def lane_fill(traffic: TrafficState) -> dict[str, float]:
    """Occupancy per detected lane as a share 0-1 in :data:`FILL_STEP` steps."""
    occ = np.nan_to_num(np.asarray(traffic.occupancy_pct, dtype=float), nan=0.0)
    steps = np.clip(np.round(occ / 100.0 / FILL_STEP), 0, round(1 / FILL_STEP)) * FILL_STEP
    return dict(zip(traffic.lane_ids, np.round(steps, 2).tolist(), strict=True))


def junction_state(view: LiveView, signal_id: str) -> dict[str, Any]:
    """One signal's live state from a view: shown state, normal strategy, holds, the
    requests with a status there and the people waiting at its crossings (``None`` without
    watched crossings)."""
    peds = view.pedestrians.get(signal_id)
    return {
        "signal_id": signal_id,
        "time_s": view.time_s,
        "state": view.signals.get(signal_id),
        "strategy": view.strategies.get(signal_id),
        "held": signal_id in view.held,
        "recovering": signal_id in view.recovering,
        "requests": [
            {
                "request_id": r.request_id,
                "status": r.junctions[signal_id],
                "eta_s": r.etas_s.get(signal_id),
            }
            for r in view.requests.values()
            if signal_id in r.junctions
        ],
        "pedestrians": peds.to_json() if peds is not None else None,
    }
