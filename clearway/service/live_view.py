"""What the live feed and the junction-state route show: an immutable view of the city,
published by the runtime after every tick, and the difference between two views.

The runtime swaps in a new :class:`LiveView` after each tick (one reference assignment), so
readers never take the runtime's lock or touch the simulator: a thousand dashboards cost the
control loop nothing. :func:`feed_update` is pure — what changed from the view a client was
last sent to the one now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class VehicleView:
    """A priority vehicle (never any other) where it was last heard of.

    Attributes
    ----------
    vehicle_id
        Its id (a convoy's lead).
    edge_id, offset_m
        Edge and distance along it (m); ``""`` and 0 for a GPS fix (lat/lon as sent).
    x_m, y_m
        The same place in network coordinates (m).
    speed_mps
        Its speed (m/s).
    time_s
        When heard of (traffic time, s).
    """

    vehicle_id: str
    edge_id: str
    offset_m: float
    x_m: float
    y_m: float
    speed_mps: float
    time_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "vehicle_id": self.vehicle_id,
            "edge_id": self.edge_id,
            "offset_m": round(self.offset_m, 2),
            "x_m": round(self.x_m, 2),
            "y_m": round(self.y_m, 2),
            "speed_mps": round(self.speed_mps, 2),
            "time_s": self.time_s,
        }


@dataclass(frozen=True, slots=True)
class PedestrianView:
    """One junction's crossings as the feed and the junction-state route show them.

    Attributes
    ----------
    link_indices
        Signal link index of each watched crossing (sorted).
    waiting
        People calling at each crossing: the kept call (a lower bound of how many wait; count).
    walks
        Whether each crossing shows its walk now.
    """

    link_indices: tuple[int, ...]
    waiting: tuple[int, ...]
    walks: tuple[bool, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "waiting": sum(self.waiting),
            "walk": any(self.walks),
            "crossings": [
                {"link_index": i, "waiting": n, "walk": w}
                for i, n, w in zip(self.link_indices, self.waiting, self.walks, strict=True)
            ],
        }


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request's status as the feed shows it (SSM-shaped: per junction status and ETA).

    Attributes
    ----------
    junctions
        Per signal still ahead or recovering: ``requested``, ``processing``, ``granted``,
        ``rejected``, ``watchOtherTraffic`` or ``recovering``.
    etas_s
        Predicted arrival at signals ahead (traffic time, s), where planned.
    pass_time_s
        How long after its head its tail passes a point: a convoy's length / speed, else 0
        (s). Not in :meth:`to_json`: the public alert feed uses it for its windows.
    """

    request_id: str
    vehicle_id: str
    owner: str
    role: str
    incident_id: str
    state: str
    route: tuple[str, ...]
    junctions: Mapping[str, str]
    etas_s: Mapping[str, float]
    simulated: bool = False
    flag: str | None = None
    pass_time_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "vehicle_id": self.vehicle_id,
            "owner": self.owner,
            "role": self.role,
            "incident_id": self.incident_id,
            "state": self.state,
            "route": list(self.route),
            "junctions": [
                {
                    "signal_id": sid,
                    "status": status,
                    "eta_s": round(self.etas_s[sid], 1) if sid in self.etas_s else None,
                }
                for sid, status in self.junctions.items()
            ],
            "simulated": self.simulated,
            "flag": self.flag,
        }


@dataclass(frozen=True, slots=True)
class LiveView:
    """The city at one tick.

    Attributes
    ----------
    version
        Increases with every published view (count).
    time_s
        Traffic time (s).
    running, error
        Whether the runtime ticks; why it stopped, if it failed.
    signals
        State string shown per signal id.
    strategies
        Normal strategy per signal id.
    held, recovering
        Signals held for a priority vehicle now; signals serving the phases a hold cut.
    lanes
        Per lane with a detector, how full it is: occupancy as a share 0-1, in steps of
        0.05 (aggregates only: nothing about any one vehicle).
    vehicles, requests
        Priority vehicles by id; requests of this run by id (live ones and recent others).
    tick_ms
        Wall time of the last tick, control and simulation step (ms).
    flush_failures
        Ticks whose audit batch could not be written (count).
    pedestrians
        Per signal with watched crossings: people waiting at each and whether its walk is
        shown (counts only; :mod:`clearway.service.live_peds`).
    """

    version: int
    time_s: float
    running: bool
    error: str | None
    signals: Mapping[str, str] = field(default_factory=dict)
    strategies: Mapping[str, str] = field(default_factory=dict)
    held: frozenset[str] = frozenset()
    recovering: frozenset[str] = frozenset()
    vehicles: Mapping[str, VehicleView] = field(default_factory=dict)
    requests: Mapping[str, RequestView] = field(default_factory=dict)
    tick_ms: float = 0.0
    flush_failures: int = 0
    lanes: Mapping[str, float] = field(default_factory=dict)
    pedestrians: Mapping[str, PedestrianView] = field(default_factory=dict)

    def health(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "error": self.error,
            "tick_ms": round(self.tick_ms, 3),
            "flush_failures": self.flush_failures,
        }


EMPTY_VIEW = LiveView(version=0, time_s=0.0, running=False, error=None)


def feed_snapshot(view: LiveView) -> dict[str, Any]:
    """The first message a feed client gets: everything."""
    return {
        "type": "snapshot",
        "version": view.version,
        "time_s": view.time_s,
        "signals": dict(view.signals),
        "strategies": dict(view.strategies),
        "held": sorted(view.held),
        "recovering": sorted(view.recovering),
        "vehicles": {k: v.to_json() for k, v in view.vehicles.items()},
        "requests": [r.to_json() for r in view.requests.values()],
        "lanes": dict(view.lanes),
        "pedestrians": {k: v.to_json() for k, v in view.pedestrians.items()},
        "health": view.health(),
    }


def feed_update(before: LiveView, now: LiveView) -> dict[str, Any] | None:
    """What changed from ``before`` to ``now``; ``None`` if nothing did.

    Signals, strategies, lanes and pedestrians: only the changed ones. Vehicles: every one present (they move),
    plus the ids of those gone. Requests: those whose view changed. Held, recovering and
    health: whole, when they changed.
    """
    if now.version == before.version:
        return None
    signals = {k: v for k, v in now.signals.items() if before.signals.get(k) != v}
    strategies = {k: v for k, v in now.strategies.items() if before.strategies.get(k) != v}
    requests = [r.to_json() for k, r in now.requests.items() if before.requests.get(k) != r]
    gone = sorted(set(before.vehicles) - set(now.vehicles))
    msg: dict[str, Any] = {"type": "update", "version": now.version, "time_s": now.time_s}
    if signals:
        msg["signals"] = signals
    if strategies:
        msg["strategies"] = strategies
    if now.held != before.held:
        msg["held"] = sorted(now.held)
    if now.recovering != before.recovering:
        msg["recovering"] = sorted(now.recovering)
    if now.vehicles:
        msg["vehicles"] = {k: v.to_json() for k, v in now.vehicles.items()}
    if gone:
        msg["gone_vehicles"] = gone
    if requests:
        msg["requests"] = requests
    lanes = {k: v for k, v in now.lanes.items() if before.lanes.get(k) != v}
    if lanes:
        msg["lanes"] = lanes
    peds = {k: v.to_json() for k, v in now.pedestrians.items() if before.pedestrians.get(k) != v}
    if peds:
        msg["pedestrians"] = peds
    if now.health() != before.health():
        msg["health"] = now.health()
    return msg
