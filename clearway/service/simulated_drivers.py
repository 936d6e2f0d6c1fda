"""The drivers of the service twin's simulated priority vehicles: they do what clearway tells
a real driver.

A request made with ``simulate`` puts its vehicle (or convoy) into the twin. On the street the
driver reads the request's arrival advice and its route — re-planned on the way when a
clearly faster one opens (:mod:`~clearway.control.priority.reroute`) — off the API or the
dashboard, and acts on them. In the twin nobody reads them, so after each tick this does:
every simulated vehicle drives at its advised speed (as before once the advice ends) and
takes the new route its request was given; a convoy's followers take it behind their lead.
Commands go only to the vehicles clearway inserted for a live simulated request.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from clearway.control.priority.lifecycle import PriorityRequest
from clearway.errors import SimulationError

log = logging.getLogger(__name__)


class Steerable(Protocol):
    """What the drivers need of the twin (:class:`~clearway.sim.twin.SumoTwin` fits)."""

    def advise_speed(self, vehicle_id: str, speed_mps: float | None) -> None: ...

    def set_route(self, vehicle_id: str, edges: Sequence[str]) -> None: ...


@dataclass
class _Driven:
    route: tuple[str, ...]
    #: The convoy's whole way so far: its followers drive it up to where a new route starts.
    full: tuple[str, ...]
    speed_mps: float | None = None


class SimulatedDrivers:
    """Per simulated vehicle, the advice and route it was last given (see the module
    docstring)."""

    def __init__(self) -> None:
        self._driven: dict[str, _Driven] = {}
        #: Route changes taken, per lead vehicle id (count).
        self.reroutes: dict[str, int] = {}

    def follow(
        self, twin: Steerable, records: Iterable[PriorityRequest], on_road: Collection[str]
    ) -> None:
        """Act on the advice and route of each simulated request's record.

        Parameters
        ----------
        twin
            The twin the vehicles drive in.
        records
            The desk's records of the live simulated requests; a final one lets go of its
            vehicle (its advice is lifted).
        on_road
            Ids of the priority vehicles on the road now: one still to leave is steered once
            it has.
        """
        for req in records:
            vid = req.spec.requester_id
            driven = self._driven.get(vid)
            if driven is None:
                driven = self._driven[vid] = _Driven(req.route, req.route)
            if req.state.is_final:
                if driven.speed_mps is not None:
                    self._quietly(twin.advise_speed, vid, None)
                del self._driven[vid]
                continue
            if vid not in on_road:
                continue
            speed = req.advice.speed_mps if req.advice is not None else None
            if speed != driven.speed_mps and self._quietly(twin.advise_speed, vid, speed):
                driven.speed_mps = speed
            if req.route and req.route != driven.route:
                self._take(twin, req, driven)

    def _take(self, twin: Steerable, req: PriorityRequest, driven: _Driven) -> None:
        vid = req.spec.requester_id
        # Until the vehicle takes the new route the book sees it off its route and plans
        # from where it is: it is told again on the next tick, never left in between.
        if not self._quietly(twin.set_route, vid, req.route):
            return
        driven.route = req.route
        start = req.route[0]
        full = driven.full
        driven.full = (*full[: full.index(start)], *req.route) if start in full else req.route
        convoy = req.spec.convoy
        for k in range(1, convoy.vehicle_count if convoy is not None else 1):
            # A follower still to be inserted keeps its route; one on the road follows.
            self._quietly(twin.set_route, f"{vid}.{k}", driven.full)
        self.reroutes[vid] = self.reroutes.get(vid, 0) + 1

    @staticmethod
    def _quietly(call, vehicle_id: str, arg) -> bool:  # type: ignore[no-untyped-def]
        """``call(vehicle_id, arg)``; False (logged) if the twin refused it — a vehicle not on
        the road (yet, or any more), a route SUMO cannot drive from where it is."""
        with contextlib.suppress(SimulationError):
            call(vehicle_id, arg)
            return True
        log.debug("simulated driver of %s could not follow %s", vehicle_id, call.__name__)
        return False


__all__ = ["SimulatedDrivers", "Steerable"]
