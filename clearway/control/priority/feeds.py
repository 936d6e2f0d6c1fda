"""Priority-vehicle feeds the service combines: positions pushed by dispatch over the API, and
the twin's own view of a vehicle it simulates.

A real deployment hears of its vehicles only through what dispatch sends
(:class:`PushedPositions`); the digital twin can also drive a simulated vehicle whose position
SUMO knows. :class:`MergedFeed` gives the controller, per vehicle, the newest position any
source has — so a vehicle is served whichever way it is heard of.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from clearway.control.priority.request import PositionUpdate
from clearway.ports import PriorityVehicleFeed


class PushedPositions:
    """The last position pushed for each priority vehicle (a
    :class:`~clearway.ports.PriorityVehicleFeed`).

    Thread-safe: request handlers push while the control loop reads.
    """

    def __init__(self) -> None:
        self._latest: dict[str, PositionUpdate] = {}
        self._lock = threading.Lock()

    def push(self, vehicle_id: str, update: PositionUpdate) -> bool:
        """Keep ``update`` if it is newer than the one held for ``vehicle_id``.

        Returns
        -------
        bool
            Whether it was kept (an older or equally old update is dropped: the controller
            would ignore it anyway).
        """
        with self._lock:
            held = self._latest.get(vehicle_id)
            if held is not None and update.time_s <= held.time_s:
                return False
            self._latest[vehicle_id] = update
            return True

    def __contains__(self, vehicle_id: object) -> bool:
        with self._lock:
            return vehicle_id in self._latest

    def forget(self, vehicle_id: str) -> None:
        """Drop the vehicle (its request ended); no error if it is unknown."""
        with self._lock:
            self._latest.pop(vehicle_id, None)

    def priority_positions(self) -> Mapping[str, PositionUpdate]:
        """The latest pushed position per vehicle id (a copy)."""
        with self._lock:
            return dict(self._latest)


class MergedFeed:
    """Several feeds as one: per vehicle, the position with the latest ``time_s``.

    Parameters
    ----------
    feeds
        Sources in order of preference when two report the same time (the first wins).
    """

    def __init__(self, *feeds: PriorityVehicleFeed) -> None:
        if not feeds:
            raise ValueError("MergedFeed needs at least one feed")
        self.feeds = feeds

    def priority_positions(self) -> Mapping[str, PositionUpdate]:
        """Newest position of every vehicle any feed reports."""
        merged: dict[str, PositionUpdate] = {}
        for feed in self.feeds:
            for vid, update in feed.priority_positions().items():
                held = merged.get(vid)
                if held is None or update.time_s > held.time_s:
                    merged[vid] = update
        return merged
