"""The public alert feed: which streets and junctions are being cleared now and in the next
minutes, for drivers and navigation apps — built from the live corridors, with nothing that
identifies a vehicle, a request, an incident or a person.

Pure functions of the published :class:`~clearway.service.live_view.LiveView` (no lock, no
simulator): :func:`corridors_of` keeps of each live request only what the public may see,
:func:`raw_windows` turns it into hold windows per place, :func:`publish` coarsens and merges
them (and keeps windows already in force), :func:`feature_collection` writes GeoJSON.

Privacy (what a window may reveal, and why it is shaped so)
-----------------------------------------------------------
* No vehicle id, request id, incident id, owner, role detail (ambulance / fire / police are
  one class, ``emergency``) and no position: only the *places ahead* of a vehicle — signalised
  junctions it has not passed yet, and the edges after the first of them. The edge it is on
  now is never published as such.
* Windows are widened outward to a grid of :data:`STEP_S` seconds (start floored, end
  ceiled; RFC 3339 in whole seconds), so an arrival estimate — and from it the vehicle's
  distance — is known to no better than a step (about 70 m at 50 km/h for 5 s).
* Windows of one place from different requests are merged when they overlap or lie within
  :data:`MERGE_GAP_S` of each other, and features are listed by place, not by request: the
  feed does not say how many vehicles come, nor which windows belong to the same one.
* A window that has begun stays published until its (ceiled) end, even once the vehicle has
  crossed: its disappearance marks the end of the window, not the moment of the crossing.
  A window that has not begun follows the plans as they are now (a cancelled request's future
  windows vanish at once: a plan that will not happen tells nothing about where anyone is).

Times are traffic time (s) inside; UTC only when written (:func:`feature_collection`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from clearway.errors import NetworkError
from clearway.network import Network
from clearway.service.clock import TrafficClock
from clearway.service.live_view import LiveView

#: Windows are widened outward to multiples of this (traffic s).
STEP_S = 5.0
#: Windows of one place this close (or overlapping) are published as one (s).
MERGE_GAP_S = 15.0
#: Only windows starting within this long from now are published (s).
HORIZON_S = 600.0
#: A junction's cross traffic is stopped this long before the vehicle arrives: the hold's
#: transition (yellow and red clearance of the cut movements) plus the queue discharged ahead
#: of the vehicle (s). A design margin, not a measurement: the plan's own green start is not in
#: the published view.
JUNCTION_LEAD_S = 20.0
#: Drivers on an edge are asked to clear a lane this long before the vehicle enters it (s).
EDGE_LEAD_S = 10.0
#: A window lasts this long after the vehicle's (a convoy's tail's) predicted passage (s).
TAIL_MARGIN_S = 5.0
#: Request states whose corridor is published (a request not yet planned has no ETAs).
LIVE_STATES = frozenset({"planned", "active"})
#: Per-junction statuses that will not be held for the vehicle.
NOT_HELD = frozenset({"rejected", "recovering"})
#: Roles as the public sees them.
REASON_OF_ROLE = {
    "ambulance": "emergency",
    "fire": "emergency",
    "police": "emergency",
    "other": "emergency",
    "convoy": "convoy",
    "transit": "transit",
}
#: Which reason a merged window of several classes shows (the strongest restriction).
_REASON_RANK = {"convoy": 3, "emergency": 2, "transit": 1}

Reason = Literal["emergency", "convoy", "transit"]
Kind = Literal["junction", "edge"]


@dataclass(frozen=True, slots=True)
class CorridorAhead:
    """What the public feed uses of one live request.

    Attributes
    ----------
    reason
        ``emergency``, ``convoy`` or ``transit``.
    route
        The route's edge ids.
    etas_s
        Predicted arrival (traffic s) at each signal still ahead that will be held for it.
    pass_time_s
        How long after its head the tail passes a point (a convoy's length / speed; s).
    """

    reason: Reason
    route: tuple[str, ...]
    etas_s: Mapping[str, float]
    pass_time_s: float = 0.0


@dataclass(frozen=True, slots=True)
class AlertWindow:
    """One place cleared for a while.

    Attributes
    ----------
    kind, place_id
        ``junction`` and its id, or ``edge`` and its id.
    from_edge, to_edge
        The direction: for a junction the edges in and out, for an edge itself twice.
    reason
        The reason class shown.
    from_s, to_s
        The window (traffic s).
    """

    kind: Kind
    place_id: str
    from_edge: str
    to_edge: str
    reason: Reason
    from_s: float
    to_s: float

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The place and direction: windows merge only with windows of the same key."""
        return (self.kind, self.place_id, self.from_edge, self.to_edge)


def corridors_of(view: LiveView) -> list[CorridorAhead]:
    """The live corridors of a view, stripped to what the public feed may use (ids, owner,
    incident and vehicle position are dropped here)."""
    out = []
    for r in view.requests.values():
        if r.state not in LIVE_STATES:
            continue
        etas = {
            sid: eta
            for sid, eta in r.etas_s.items()
            if sid in r.junctions and r.junctions[sid] not in NOT_HELD and math.isfinite(eta)
        }
        if etas and r.route:
            reason = REASON_OF_ROLE.get(r.role, "emergency")
            out.append(CorridorAhead(reason, tuple(r.route), etas, r.pass_time_s))  # type: ignore[arg-type]
    return out


def raw_windows(
    net: Network, corridors: Iterable[CorridorAhead], junction_signals: Mapping[str, str]
) -> list[AlertWindow]:
    """Hold windows per place of each corridor, exact (not coarsened, not merged).

    Junctions: each signalised junction whose signal is ahead, from ``eta -
    JUNCTION_LEAD_S`` to ``eta + pass_time + TAIL_MARGIN_S``. Edges: every edge after the
    first such junction, from the vehicle's entry (``- EDGE_LEAD_S``) to its exit (``+
    pass_time + TAIL_MARGIN_S``); entry and exit times between two signals are interpolated
    by free-flow travel time (length / speed limit), after the last one extrapolated by it.
    """
    out: list[AlertWindow] = []
    for c in corridors:
        route = c.route
        # Time at the end of each route edge where a signal ahead gives one.
        anchors: dict[int, float] = {}
        for k, edge_id in enumerate(route[:-1]):
            sid = junction_signals.get(net.edge(edge_id).to_junction)
            if sid in c.etas_s:
                anchors[k] = c.etas_s[sid]
                out.append(
                    AlertWindow(
                        "junction",
                        net.edge(edge_id).to_junction,
                        edge_id,
                        route[k + 1],
                        c.reason,
                        c.etas_s[sid] - JUNCTION_LEAD_S,
                        c.etas_s[sid] + c.pass_time_s + TAIL_MARGIN_S,
                    )
                )
        if not anchors:
            continue
        ends = _edge_end_times(net, route, anchors)
        first = min(anchors)
        for k in range(first + 1, len(route)):
            out.append(
                AlertWindow(
                    "edge",
                    route[k],
                    route[k],
                    route[k],
                    c.reason,
                    ends[k - 1] - EDGE_LEAD_S,
                    ends[k] + c.pass_time_s + TAIL_MARGIN_S,
                )
            )
    return out


def _edge_end_times(
    net: Network, route: Sequence[str], anchors: Mapping[int, float]
) -> list[float]:
    """Time the vehicle reaches the end of each route edge from the first anchor on (earlier
    entries are unused): anchored where known, interpolated by free-flow time between anchors,
    extrapolated after the last one."""
    free = [net.edge(e).length_m / max(net.edge(e).speed_mps, 1.0) for e in route]
    keys = sorted(anchors)
    ends = [math.nan] * len(route)
    for a, b in zip(keys, keys[1:], strict=False):
        span = sum(free[a + 1 : b + 1])
        t = anchors[a]
        ends[a] = t
        for k in range(a + 1, b):
            t += (anchors[b] - anchors[a]) * (free[k] / span if span > 0 else 0.0)
            ends[k] = t
    last = keys[-1]
    t = ends[last] = anchors[last]
    for k in range(last + 1, len(route)):
        t += free[k]
        ends[k] = t
    return ends


def coarsen(w: AlertWindow, step_s: float = STEP_S) -> AlertWindow:
    """The window widened outward to multiples of ``step_s`` (start floored, end ceiled)."""
    lo = math.floor(w.from_s / step_s) * step_s
    hi = math.ceil(w.to_s / step_s) * step_s
    # Division rounds: a time a hair off the grid (or a subnormal one) may land on the wrong
    # side of it; the window must only widen.
    lo = lo - step_s if lo > w.from_s else lo
    hi = hi + step_s if hi < w.to_s else hi
    return replace(w, from_s=lo, to_s=max(hi, lo + step_s))


def merge(windows: Iterable[AlertWindow], gap_s: float = MERGE_GAP_S) -> list[AlertWindow]:
    """Windows of one place and direction that overlap or lie within ``gap_s`` of each other,
    as one (the strongest reason shown); sorted by place, then time."""
    by_key: dict[tuple[str, str, str, str], list[AlertWindow]] = {}
    for w in windows:
        by_key.setdefault(w.key, []).append(w)
    out: list[AlertWindow] = []
    for key in sorted(by_key):
        cur: AlertWindow | None = None
        for w in sorted(by_key[key], key=lambda w: (w.from_s, w.to_s)):
            if cur is not None and w.from_s <= cur.to_s + gap_s:
                reason = max(cur.reason, w.reason, key=_REASON_RANK.__getitem__)
                cur = replace(cur, to_s=max(cur.to_s, w.to_s), reason=reason)
                continue
            if cur is not None:
                out.append(cur)
            cur = w
        if cur is not None:
            out.append(cur)
    return out


def publish(
    previous: Sequence[AlertWindow],
    raw: Iterable[AlertWindow],
    now_s: float,
    *,
    step_s: float = STEP_S,
    gap_s: float = MERGE_GAP_S,
    horizon_s: float = HORIZON_S,
) -> list[AlertWindow]:
    """The windows to publish now.

    Parameters
    ----------
    previous
        What was published last (already coarsened); those that have begun and not ended are
        kept (see the module docstring), the others are dropped.
    raw
        :func:`raw_windows` of the corridors now.
    now_s
        Traffic time now (s).
    step_s, gap_s, horizon_s
        Coarsening step, merge gap and horizon (s).

    Returns
    -------
    list[AlertWindow]
        Coarsened, merged, not yet ended, starting within ``horizon_s``; by place, then time.
    """
    fresh = [coarsen(w, step_s) for w in raw]
    kept = [w for w in previous if w.from_s <= now_s < w.to_s]
    merged = merge([*kept, *fresh], gap_s)
    return [w for w in merged if w.to_s > now_s and w.from_s <= now_s + horizon_s]


# -- GeoJSON ------------------------------------------------------------------------------------
def _utc_text(utc_s: float, up: bool) -> str:
    t = math.ceil(utc_s) if up else math.floor(utc_s)
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hhmm(utc_s: float, up: bool) -> str:
    t = (math.ceil(utc_s / 60.0) if up else math.floor(utc_s / 60.0)) * 60
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M")


def message(kind: Kind, reason: Reason, from_utc_s: float, to_utc_s: float) -> str:
    """The plain-language line for a window (minutes, widened outward, UTC)."""
    span = f"{_hhmm(from_utc_s, False)}–{_hhmm(to_utc_s, True)} UTC"
    if reason == "convoy":
        return f"closed for convoy {span}"
    if reason == "transit":
        return f"bus priority {span}"
    if kind == "edge":
        return f"rescue lane ahead {span}"
    return f"emergency vehicle crossing {span}"


def _bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Compass bearing from a to b (degrees clockwise from north; network y is north)."""
    return round(math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360.0, 0)


def _edge_shape(net: Network, edge_id: str) -> tuple[tuple[float, float], ...]:
    edge = net.edge(edge_id)
    lane = net.lane(edge.lane_ids[len(edge.lane_ids) // 2])
    return tuple((float(x), float(y)) for x, y in lane.shape)


def _lonlat(net: Network, x: float, y: float) -> list[float] | None:
    if net.geo is None:
        return None
    from clearway.network.geo import xy_to_lonlat

    try:
        lon, lat = xy_to_lonlat(net.geo, x, y)
    except NetworkError:
        return None
    return [round(lon, 6), round(lat, 6)]


def _geometry(net: Network, w: AlertWindow) -> dict[str, Any] | None:
    if w.kind == "junction":
        j = net.junction(w.place_id)
        point = _lonlat(net, j.x_m, j.y_m)
        return None if point is None else {"type": "Point", "coordinates": point}
    line = [_lonlat(net, x, y) for x, y in _edge_shape(net, w.place_id)]
    if any(p is None for p in line):
        return None
    return {"type": "LineString", "coordinates": line}


def feature(net: Network, w: AlertWindow, clock: TrafficClock) -> dict[str, Any]:
    """One window as a GeoJSON feature (WGS84 lon/lat; ``geometry`` null on a net without
    geo-reference: the ids still name the place on the network)."""
    lo, hi = clock.to_utc_s(w.from_s), clock.to_utc_s(w.to_s)
    props: dict[str, Any] = {"kind": w.kind, "reason": w.reason}
    if w.kind == "junction":
        shape = _edge_shape(net, w.to_edge)
        props |= {"junction_id": w.place_id, "from_edge": w.from_edge, "to_edge": w.to_edge}
        street = net.edge(w.to_edge).name
    else:
        shape = _edge_shape(net, w.place_id)
        edge = net.edge(w.place_id)
        props |= {"edge_id": w.place_id, "from_junction": edge.from_junction,
                  "to_junction": edge.to_junction}  # fmt: skip
        street = edge.name
    props |= {
        "bearing_deg": _bearing_deg(shape[0], shape[-1]) if len(shape) > 1 else None,
        "street": street or None,
        "from": _utc_text(lo, up=False),
        "to": _utc_text(hi, up=True),
        "message": message(w.kind, w.reason, lo, hi),
    }
    fid = f"{w.kind}:{w.place_id}" + (f":{w.from_edge}>{w.to_edge}" if w.kind == "junction" else "")
    return {"type": "Feature", "id": f"{fid}@{props['from']}", "geometry": _geometry(net, w),
            "properties": props}  # fmt: skip


def feature_collection(
    net: Network, windows: Sequence[AlertWindow], clock: TrafficClock
) -> dict[str, Any]:
    """The published windows as a GeoJSON FeatureCollection (RFC 7946), with the feed's
    coarsening step and horizon as foreign members."""
    return {
        "type": "FeatureCollection",
        "features": [feature(net, w, clock) for w in windows],
        "step_s": STEP_S,
        "horizon_s": HORIZON_S,
        "geo_referenced": net.geo is not None,
    }
