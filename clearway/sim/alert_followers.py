"""Simulated drivers who follow the public alert feed (evaluation only).

A share of the demand's drivers use a navigation app that reads ``GET /public/alerts``: when
an edge they would drive is announced for a window, the app routes them around it if they
would be on it then. This module is that app, for the evaluation: the harness picks the
followers among the simulated trips it loaded (a seeded choice by vehicle id, the same for
every strategy of a seed), and each tick gives those on the road the windows the feed
publishes now; the twin re-routes them (:meth:`~clearway.sim.twin.SumoTwin.avoid_edges`),
with the windows as time-dependent travel times, so a driver avoids an edge only if it would
be on it during its window.

The controller never sees any of this: the followers are simulated people acting on public
information, as the other drivers act on their own route choice. Nothing about them is read
but whether they are still on the road (a re-route of one that has arrived fails).
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

#: How often followers on the road are given the windows again, when none changed (s).
REFRESH_S = 10.0


class EdgeAvoider(Protocol):
    """The twin's part: the router's weights, and re-routing one simulated driver around
    edges in their windows."""

    def set_routing_weights(self, weights_s: Mapping[str, float]) -> None: ...

    def avoid_edges(
        self, vehicle_id: str, windows_s: Mapping[str, tuple[float, float]]
    ) -> bool: ...


def loaded_trips(route_files: Iterable[str | Path]) -> dict[str, float]:
    """Vehicle (and trip) ids of SUMO route files with their departure times (s); flows
    (whose vehicles SUMO names at run time) are left out."""
    out: dict[str, float] = {}
    for path in route_files:
        for _, el in ET.iterparse(str(path), events=("end",)):
            if el.tag in ("vehicle", "trip") and el.get("id") is not None:
                depart = el.get("depart", "0")
                try:
                    out[el.get("id", "")] = float(depart)
                except ValueError:  # "triggered", "now" ...: at the start
                    out[el.get("id", "")] = 0.0
            if el.tag in ("vehicle", "trip", "flow", "person"):
                el.clear()
    return out


def choose_followers(
    trips: Mapping[str, float], share: float, seed: int, exclude: Iterable[str] = ()
) -> dict[str, float]:
    """The drivers who follow the alerts: each trip with probability ``share``, decided by a
    hash of (seed, id) — the same drivers for every strategy of a seed, independent of the
    order of the files."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"alert share must be within 0-1, not {share}")
    skip = set(exclude)
    out = {}
    for vid, depart_s in trips.items():
        if vid in skip:
            continue
        h = int.from_bytes(hashlib.sha256(f"{seed}:{vid}".encode()).digest()[:8], "big")
        if h / 2**64 < share:
            out[vid] = depart_s
    return out


class AlertFollowers:
    """Give the followers on the road the published windows, when they change and every
    :data:`REFRESH_S`.

    Parameters
    ----------
    twin
        Re-routes a driver (:class:`EdgeAvoider`).
    followers
        Follower ids and their departure times (s).
    """

    def __init__(self, twin: EdgeAvoider, followers: Mapping[str, float]) -> None:
        self.twin = twin
        self._waiting = dict(sorted(followers.items(), key=lambda kv: kv[1]))
        self._seen: set[str] = set()
        self._last: dict[str, tuple[float, float]] = {}
        self._at_s = -float("inf")
        #: Re-route calls that reached a driver on the road (count).
        self.reroutes = 0

    def update(self, now_s: float, windows_s: Mapping[str, tuple[float, float]]) -> None:
        """Tell the followers on the road about ``windows_s`` (edge -> (from, to), s); those
        not yet on it are told once they are, the arrived are dropped."""
        changed = dict(windows_s) != self._last
        if not windows_s:
            # Nothing announced: nobody is re-routed (the windows given before expire alone).
            self._last = {}
            return
        if not changed and now_s - self._at_s < REFRESH_S:
            return
        self._last, self._at_s = dict(windows_s), now_s
        for vid, depart_s in list(self._waiting.items()):
            if depart_s > now_s:
                break
            if self.twin.avoid_edges(vid, windows_s):
                self._seen.add(vid)
                self.reroutes += 1
            elif vid in self._seen:
                del self._waiting[vid]  # it was on the road and is gone: arrived
