"""The evaluation's drivers who follow the public alert feed: the feed's windows, made each
tick from the desk exactly as the service makes them for ``GET /public/alerts``
(:mod:`clearway.service.public_alerts`), handed to the simulated followers
(:mod:`clearway.sim.alert_followers`).

Only the feed's *edge* windows steer the followers (a junction's window concerns its cross
traffic, which a route cannot avoid without avoiding the junction's edges).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from clearway.control.priority.corridor import signal_of_junction
from clearway.control.priority.desk import PriorityDesk
from clearway.network import Network
from clearway.service.public_alerts import (
    LIVE_STATES,
    NOT_HELD,
    REASON_OF_ROLE,
    AlertWindow,
    CorridorAhead,
    publish,
    raw_windows,
)
from clearway.sim.alert_followers import (
    AlertFollowers,
    EdgeAvoider,
    choose_followers,
    loaded_trips,
)


def desk_corridors(desk: PriorityDesk) -> list[CorridorAhead]:
    """The desk's live requests as the public feed sees them (no ids)."""
    out = []
    for rid, rec in desk.requests.items():
        if rec.state.value not in LIVE_STATES or not rec.route:
            continue
        etas = {
            sid: t
            for sid, t in desk.etas_s(rid).items()
            if sid in rec.junctions
            and rec.junctions[sid].value not in NOT_HELD
            and math.isfinite(t)
        }
        if not etas:
            continue
        convoy = rec.spec.convoy
        reason = REASON_OF_ROLE.get(rec.spec.role.value, "emergency")
        out.append(
            CorridorAhead(
                reason,  # type: ignore[arg-type]
                tuple(rec.route),
                etas,
                convoy.pass_time_s if convoy is not None else 0.0,
            )
        )
    return out


def edge_windows(windows: Iterable[AlertWindow]) -> dict[str, tuple[float, float]]:
    """Per edge, the span of its published windows (s)."""
    out: dict[str, tuple[float, float]] = {}
    for w in windows:
        if w.kind != "edge":
            continue
        lo, hi = out.get(w.place_id, (w.from_s, w.to_s))
        out[w.place_id] = (min(lo, w.from_s), max(hi, w.to_s))
    return out


class AlertDrivers:
    """The feed as published each tick, and the followers who act on it.

    Parameters
    ----------
    twin
        Re-routes the followers.
    net
        The network.
    route_files
        The demand (the followers are chosen among its vehicles and trips).
    share, seed
        Share of drivers who follow the feed (0-1), and the run's seed (the same drivers for
        every strategy of a seed).
    exclude
        Vehicles that never follow (the priority vehicles).
    """

    def __init__(
        self,
        twin: EdgeAvoider,
        net: Network,
        route_files: Iterable[str | Path],
        share: float,
        seed: int,
        exclude: Iterable[str] = (),
    ) -> None:
        self.net = net
        self.signals = signal_of_junction(net)
        chosen = choose_followers(loaded_trips(route_files), share, seed, exclude)
        # A follower's re-route weighs every other edge at free flow, as the demand's routes
        # were made: it changes its route for the feed's windows, not for queues it sees.
        twin.set_routing_weights(
            {e.id: e.length_m / max(e.speed_mps, 0.1) for e in net.edges.values() if e.is_normal}
        )
        self.followers = AlertFollowers(twin, chosen)
        self.chosen = len(chosen)
        self._published: list[AlertWindow] = []

    def on_tick(self, now_s: float, desk: PriorityDesk | None) -> Mapping[str, tuple[float, float]]:
        """Publish the feed for ``now_s`` and tell the followers; returns the edge windows."""
        corridors = desk_corridors(desk) if desk is not None else []
        raw = raw_windows(self.net, corridors, self.signals)
        self._published = publish(self._published, raw, now_s)
        windows = edge_windows(self._published)
        self.followers.update(now_s, windows)
        return windows
