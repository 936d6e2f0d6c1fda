"""The SUMO digital twin: one adapter that is a SignalPort, a StateSource and a Clock.

Both backends expose the same API: ``libsumo`` runs SUMO inside this process (~µs per call, one
simulation per process at a time), ``traci`` talks to a SUMO process over a socket (~10-100 µs
per call, any number at once). What is read every step comes from *subscriptions*: SUMO
computes them during ``simulationStep`` and TraCI ships them in the step's reply, so a TraCI
step costs one round trip however many signals there are. Detector data is read only when
asked for (see ``_detector_rows`` for the measured trade-off per backend).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

# launch imports sumo_env, which pins SUMO_HOME before libsumo/traci are imported anywhere.
from clearway.sim.launch import (  # isort: split
    TIME_TO_TELEPORT_S,
    Backend,
    backend_errors,
    claim_libsumo,
    launch,
    log_tail,
    missing_inputs,
    release_libsumo,
    stderr_tail,
    sumo_command,
)

from traci import constants as tc

from clearway.control.priority.request import EdgePlace, PositionUpdate
from clearway.errors import SimulationError, UnknownSignalError
from clearway.ports import StepListener
from clearway.signals.safety.commands import ApprovedCommand
from clearway.sim.pedestrians import PED_DETECTOR_PREFIX
from clearway.sim.scenario import DETECTOR_PREFIX, Scenario
from clearway.state.traffic import PERSON_FIELD, TRAFFIC_FIELDS, TrafficState

__all__ = ["TIME_TO_TELEPORT_S", "Backend", "SumoTwin"]

#: What an edge announced by the public alert feed costs a driver who follows the feed, during
#: its window (s): enough to take any detour (:meth:`SumoTwin.avoid_edges`).
AVOIDED_EDGE_S = 3600.0


_SIM_VARS = (
    tc.VAR_TIME,
    tc.VAR_MIN_EXPECTED_VEHICLES,
    tc.VAR_TELEPORT_STARTING_VEHICLES_NUMBER,
)
# Order matches TrafficState's arrays: count, halting, queue (m), occupancy (%), speed (m/s).
_DET_VARS = (
    tc.LAST_STEP_VEHICLE_NUMBER,
    tc.LAST_STEP_VEHICLE_HALTING_NUMBER,
    tc.JAM_LENGTH_METERS,
    tc.LAST_STEP_OCCUPANCY,
    tc.LAST_STEP_MEAN_SPEED,
)
_DET_GETTERS = (
    "getLastStepVehicleNumber",
    "getLastStepHaltingNumber",
    "getJamLengthMeters",
    "getLastStepOccupancy",
    "getLastStepMeanSpeed",
)


class SumoTwin:
    """A running SUMO simulation of a :class:`~clearway.sim.scenario.Scenario`.

    Implements :class:`~clearway.ports.SignalPort`, :class:`~clearway.ports.StateSource` and
    :class:`~clearway.ports.Clock`. Create with :meth:`start`; close with :meth:`close` or use
    it as a context manager (the tripinfo file is complete only after closing).

    Attributes
    ----------
    scenario, backend, step_length_s
        What runs, on which backend, with which step (s).
    tripinfo_path, log_path
        SUMO's per-vehicle trip output and its warnings/errors log (``None`` when not written).
    teleports
        Vehicles SUMO teleported so far (count).
    """

    def __init__(
        self,
        sim: Any,
        *,
        backend: Backend,
        stderr: IO[bytes] | None = None,
        scenario: Scenario,
        step_length_s: float,
        tripinfo_path: Path | None,
        log_path: Path | None,
    ) -> None:
        # Private: use SumoTwin.start(). ``sim`` is the libsumo module or a traci Connection.
        self._sim = sim
        self._stderr = stderr  # TraCI only: SUMO's stderr, quoted when SUMO fails
        self.backend: Backend = backend
        self.scenario = scenario
        self.step_length_s = step_length_s
        self.tripinfo_path = tripinfo_path
        self.log_path = log_path
        self.teleports = 0
        self._closed = False
        self._listeners: list[StepListener] = []
        self._applied: dict[str, str] = {}
        self._signals: dict[str, str] | None = None
        #: What SUMO showed after the last step, aligned with ``_signal_ids`` (None: not read).
        self._shown: list[str] | None = None
        self._traffic: TrafficState | None = None
        self._traffic_fields: set[str] = set()
        self._detectors_subscribed = False
        #: clearway's pedestrian detectors and their approach ids (None: not looked up yet).
        self._ped_detectors: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        self._tracked: set[str] = set()
        self._routes_added = 0
        self._errors = backend_errors(backend)
        try:
            self._setup()
        except Exception:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        scenario: Scenario,
        *,
        backend: Backend = "libsumo",
        step_length_s: float = 1.0,
        tripinfo_path: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> SumoTwin:
        """Launch SUMO on ``scenario``.

        Parameters
        ----------
        scenario
            Network, demand, detectors, seed and end time.
        backend
            ``"libsumo"`` (in-process, fast; one at a time per process) or ``"traci"``.
        step_length_s
            Simulation step (s).
        tripinfo_path
            Where SUMO writes one ``<tripinfo>`` per vehicle, including vehicles still driving
            or never inserted at the end (read it with
            :func:`clearway.evaluation.metrics.read_tripinfo` after :meth:`close`).
        log_path
            Where SUMO's warnings and errors go; defaults to ``<tripinfo_path>.log``. With
            neither path, warnings are dropped (errors still raise).
        extra_args
            More SUMO options, appended last (they override the defaults).

        Raises
        ------
        SimulationError
            If SUMO cannot start (bad inputs, a libsumo simulation already open in this process).
        """
        if backend not in ("libsumo", "traci"):
            raise SimulationError(f"unknown backend {backend!r}; use 'libsumo' or 'traci'")
        if step_length_s <= 0:
            raise SimulationError(f"step length must be positive, got {step_length_s} s")
        missing = missing_inputs(scenario)
        if missing:
            raise SimulationError(
                f"scenario {scenario.name!r}: missing input files "
                + ", ".join(map(str, missing))
                + "; rebuild the scenario"
            )
        trip = Path(tripinfo_path).resolve() if tripinfo_path is not None else None
        log = Path(log_path).resolve() if log_path is not None else None
        if log is None and trip is not None:
            log = trip.with_name(trip.name + ".log")
        for p in (trip, log):
            if p is not None:
                p.parent.mkdir(parents=True, exist_ok=True)
        cmd = sumo_command(scenario, step_length_s, trip, log, extra_args)
        sim, stderr = launch(backend, cmd, scenario.name, log)
        # On failure __init__ closes SUMO itself; the libsumo guard is taken only on success.
        twin = cls(
            sim,
            backend=backend,
            stderr=stderr,
            scenario=scenario,
            step_length_s=step_length_s,
            tripinfo_path=trip,
            log_path=log,
        )
        if backend == "libsumo":
            claim_libsumo(twin)
        return twin

    def close(self) -> None:
        """End the simulation and flush SUMO's outputs. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        try:
            self._sim.close()
        except Exception:  # SUMO already gone (crashed or closed): nothing left to flush
            pass
        finally:
            if self._stderr is not None:
                self._stderr.close()
            release_libsumo(self)

    def __enter__(self) -> SumoTwin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    # -- Clock -------------------------------------------------------------------------------
    def now_s(self) -> float:
        """Simulation time (s)."""
        return self._time_s

    def advance(self, dt_s: float) -> None:
        """Run ``dt_s`` seconds of traffic (a whole number of steps), calling step listeners.

        Raises
        ------
        ValueError
            If ``dt_s`` is negative or not a multiple of the step length.
        SimulationError
            If the twin is closed or SUMO fails.
        """
        self._check_open()
        steps = round(dt_s / self.step_length_s)
        if dt_s < 0 or abs(steps * self.step_length_s - dt_s) > 1e-6:
            raise ValueError(
                f"advance({dt_s}) must be a non-negative multiple of the step length "
                f"{self.step_length_s} s"
            )
        sim = self._sim
        for _ in range(steps):
            try:
                sim.simulationStep()
                res = sim.simulation.getSubscriptionResults()
            except self._errors as exc:
                raise self._failure("a simulation step", exc) from exc
            self._time_s = float(res[tc.VAR_TIME])
            self._min_expected = int(res[tc.VAR_MIN_EXPECTED_VEHICLES])
            self.teleports += int(res[tc.VAR_TELEPORT_STARTING_VEHICLES_NUMBER])
            # Results of the previous step are stale now; fetched again only when asked for.
            self._applied.clear()
            self._signals = None
            self._shown = None
            self._traffic = None
            if self._listeners:
                states = self.read_signal_states()
                for listener in self._listeners:
                    listener(self._time_s, states)

    def add_step_listener(self, listener: StepListener) -> None:
        """Call ``listener(time_s, signal_states)`` after every simulation step."""
        self._listeners.append(listener)

    def remove_step_listener(self, listener: StepListener) -> None:
        """Stop calling ``listener``; no error if it was not registered."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    @property
    def running(self) -> bool:
        """True while the end time is ahead and vehicles are still driving or expected."""
        return (
            not self._closed
            and self._time_s < self.scenario.end_s - 1e-9
            and self._min_expected > 0
        )

    @property
    def min_expected_vehicles(self) -> int:
        """Vehicles driving, waiting to be inserted, or still to be loaded (count)."""
        return self._min_expected

    # -- PriorityVehicleFeed -------------------------------------------------------------------
    def track_priority_vehicle(self, vehicle_id: str) -> None:
        """Report this vehicle's position from now on (only vehicles declared priority are)."""
        self._tracked.add(vehicle_id)

    def advise_speed(self, vehicle_id: str, speed_mps: float | None) -> None:
        """The driver of a priority vehicle follows clearway's arrival advice: drive at
        ``speed_mps`` (m/s, never faster than the vehicle otherwise would), or as before
        with ``None``. No error if the vehicle is not on the network."""
        try:
            self._sim.vehicle.setSpeed(vehicle_id, -1.0 if speed_mps is None else speed_mps)
        except self._errors as exc:
            # Asked of the priority vehicles on the road, not of the list of every vehicle.
            if vehicle_id in self.priority_positions():
                raise SimulationError(f"cannot advise {vehicle_id!r}: {exc}") from exc

    def set_route(self, vehicle_id: str, edges: Sequence[str]) -> None:
        """The vehicle drives ``edges`` from now on: a new route from the edge it is on (or
        one that passes it: the part behind it is dropped), or from an edge ahead on its route
        (it is still on its way there, e.g. inside the junction before it).

        Raises
        ------
        SimulationError
            The vehicle is not on the network, ``edges`` neither passes its current edge nor
            starts on one of its route ahead, or SUMO refuses the route (not connected for
            its class); it keeps its old route.
        """
        self._check_open()
        vehicle = self._sim.vehicle
        new = list(edges)
        try:
            route, at = list(vehicle.getRoute(vehicle_id)), vehicle.getRouteIndex(vehicle_id)
            current = route[at]
            ahead = None
            if current in new:
                ahead = new[new.index(current) :]
            elif new and new[0] in route[at + 1 :]:
                ahead = route[at : route.index(new[0], at + 1)] + new
            if ahead is None:
                raise SimulationError(
                    f"cannot re-route {vehicle_id!r}: it is on edge {current!r}, which the new "
                    f"route {edges[0]!r} -> {edges[-1]!r} neither passes nor starts ahead of it on its "
                    "route; start it where the vehicle is"
                )
            vehicle.setRoute(vehicle_id, ahead)
        except self._errors as exc:
            raise self._failure(f"re-routing vehicle {vehicle_id!r}", exc) from exc

    def set_routing_weights(self, weights_s: Mapping[str, float]) -> None:
        """Evaluation only: the travel time (s) SUMO's router assumes for each edge given, for
        the whole run, when a vehicle is re-routed by :meth:`avoid_edges` (without it SUMO
        uses the current travel times, and a follower's re-route would also dodge queues the
        feed never announced). Edge-level: no vehicle is named."""
        self._check_open()
        try:
            for edge_id, t in weights_s.items():
                self._sim.edge.adaptTraveltime(edge_id, t)
        except self._errors as exc:
            raise self._failure("setting routing weights", exc) from exc

    def avoid_edges(self, vehicle_id: str, windows_s: Mapping[str, tuple[float, float]]) -> bool:
        """Evaluation only: a simulated driver who follows the public alert feed is routed
        around ``windows_s`` (edge -> (from, to), traffic s) — each edge costs
        :data:`AVOIDED_EDGE_S` to it during its window, so it avoids the edge only if it would
        be on it then (:mod:`clearway.sim.alert_followers`). Nothing is read about the driver.

        Returns
        -------
        bool
            ``False`` if the vehicle is not on the road (not yet inserted, or arrived).
        """
        self._check_open()
        vehicle = self._sim.vehicle
        try:
            for edge_id, (from_s, to_s) in windows_s.items():
                vehicle.setAdaptedTraveltime(vehicle_id, edge_id, AVOIDED_EDGE_S, from_s, to_s)
            vehicle.rerouteTraveltime(vehicle_id, False)
        except self._errors:
            return False
        return True

    def untrack_priority_vehicle(self, vehicle_id: str) -> None:
        """Stop reporting this vehicle; no error if it was not tracked."""
        self._tracked.discard(vehicle_id)

    def insert_vehicle(
        self, vehicle_id: str, edges: Sequence[str], *, type_id: str, depart_s: float | None = None
    ) -> None:
        """Insert a (priority) vehicle driving ``edges``, leaving now or at ``depart_s`` (s).

        Raises
        ------
        SimulationError
            SUMO refuses it (an id already in use, an unknown type, a route it cannot drive);
            the simulation goes on unchanged.
        """
        self._check_open()
        self._routes_added += 1
        route_id = f"cw_route_{self._routes_added}"
        try:
            self._sim.route.add(route_id, list(edges))
            self._sim.vehicle.add(
                vehicle_id,
                route_id,
                typeID=type_id,
                depart="now" if depart_s is None else f"{depart_s:.2f}",
                departLane="best",
                departSpeed="max",
            )
        except self._errors as exc:
            raise self._failure(f"inserting vehicle {vehicle_id!r}", exc) from exc

    def insert_priority_vehicles(
        self,
        vehicle_id: str,
        edges: Sequence[str],
        *,
        type_id: str,
        count: int = 1,
        headway_s: float = 1.5,
    ) -> None:
        """Insert a priority vehicle, or a convoy of ``count`` (``vehicle_id``, then
        ``vehicle_id.1`` …, ``headway_s`` apart), on ``edges``, the first leaving now."""
        now = self.now_s()
        for k in range(count):
            vid = vehicle_id if k == 0 else f"{vehicle_id}.{k}"
            depart = None if k == 0 else now + k * headway_s
            self.insert_vehicle(vid, edges, type_id=type_id, depart_s=depart)

    def priority_positions(self) -> Mapping[str, PositionUpdate]:
        """Edge, offset and speed of every tracked vehicle that is on the network now."""
        self._check_open()
        out: dict[str, PositionUpdate] = {}
        vehicle = self._sim.vehicle
        for vid in self._tracked:
            try:
                edge = vehicle.getRoadID(vid)
                offset = vehicle.getLanePosition(vid)
                speed = vehicle.getSpeed(vid)
            except self._errors:
                continue  # not departed yet, or arrived: it has no position
            if not edge:
                continue
            out[vid] = PositionUpdate(
                time_s=self._time_s,
                place=EdgePlace(edge_id=edge, offset_m=max(offset, 0.0)),
                speed_mps=max(speed, 0.0),
            )
        return out

    # -- SignalPort --------------------------------------------------------------------------
    def signal_ids(self) -> Sequence[str]:
        """Ids of all traffic lights in the simulation, sorted."""
        return self._signal_ids

    def link_count(self, signal_id: str) -> int:
        """Length of the state string of ``signal_id``."""
        try:
            return self._link_counts[signal_id]
        except KeyError:
            raise UnknownSignalError(signal_id, self._signal_ids, where="the simulation") from None

    def read_signal_states(self) -> Mapping[str, str]:
        """State string shown by every traffic light now (a fresh dict, safe to keep).

        States applied since the last step are included: SUMO shows them from now on.
        """
        self._check_open()
        if self._signals is None:
            self._signals = dict(zip(self._signal_ids, self._shown_states(), strict=True))
        states = dict(self._signals)
        if self._applied:
            states.update(self._applied)
        return states

    def _shown_states(self) -> list[str]:
        # What SUMO shows after the last step (without this step's applied commands).
        if self._shown is None:
            try:
                self._shown = self._read_states()
            except self._errors as exc:
                raise self._failure("reading signal states", exc) from exc
        return self._shown

    def apply(self, command: ApprovedCommand) -> None:
        """Show an approved command's state; SUMO keeps it until the next command.

        Raises
        ------
        TypeError
            If ``command`` is not an :class:`ApprovedCommand` (only the safety guard makes one).
        UnknownSignalError
            If the signal is not in the simulation.
        SimulationError
            If the state string has the wrong length, or SUMO refuses it.
        """
        if not isinstance(command, ApprovedCommand):
            raise TypeError(
                f"SumoTwin.apply takes only an ApprovedCommand from SafetyGuard.check(), "
                f"got {type(command).__name__}"
            )
        self._check_open()
        n = self.link_count(command.signal_id)
        if len(command.state) != n:
            raise SimulationError(
                f"state {command.state!r} for {command.signal_id!r} has {len(command.state)} "
                f"links, the signal has {n}; the intersection model does not match the network"
            )
        try:
            self._set_state(command.signal_id, command.state)
        except self._errors as exc:
            raise self._failure(f"setting {command.signal_id!r}", exc) from exc
        self._applied[command.signal_id] = command.state

    def show_field_state(self, signal_id: str, state: str) -> None:
        """Show what a *field controller of the street* shows (a virtual NTCIP controller
        driving this twin as hardware in the loop): the street's own equipment, with its
        own conflict and clearance logic, not a command of clearway's — clearway reaches
        such a signal only through SNMP, and the safety monitor watches it like any other.

        Raises
        ------
        UnknownSignalError, SimulationError
            As :meth:`apply`.
        """
        self._check_open()
        n = self.link_count(signal_id)
        if len(state) != n:
            raise SimulationError(
                f"field state {state!r} for {signal_id!r} has {len(state)} links, the signal "
                f"has {n}; the controller's phase map does not match the network"
            )
        try:
            self._sim.trafficlight.setRedYellowGreenState(signal_id, state)
        except self._errors as exc:
            raise self._failure(f"setting {signal_id!r}", exc) from exc
        self._applied[signal_id] = state

    # -- StateSource -------------------------------------------------------------------------
    @property
    def detector_lane_ids(self) -> tuple[str, ...]:
        """Lanes covered by clearway's lane-area detectors, in TrafficState order."""
        return self._lane_ids

    def read_traffic_state(self, fields: Collection[str] | None = None) -> TrafficState:
        """Per-lane detector aggregates of the last step (counts, queue_m, occupancy, speed).

        With ``fields`` (names of :data:`~clearway.state.traffic.TRAFFIC_FIELDS`) and libsumo,
        only those are read, the others are ``nan``: on a 900-signal grid reading all five
        aggregates of 1,440 detectors took 20 ms of a 31 ms tick.

        With ``fields`` None or holding :data:`~clearway.state.traffic.PERSON_FIELD`, it also
        reads the people counted by clearway's pedestrian detectors (``cwp_*``, see
        :mod:`clearway.sim.pedestrians`; a count per sidewalk stretch, no person is named);
        scenarios without them read nothing more.
        """
        self._check_open()
        want = (
            tuple(TRAFFIC_FIELDS)
            if fields is None
            else tuple(f for f in TRAFFIC_FIELDS if f in fields)
        )
        if fields is None or PERSON_FIELD in fields:
            want = (*want, PERSON_FIELD)
        cached = self._traffic
        if cached is None or not set(want) <= self._traffic_fields:
            if self.backend != "libsumo":
                # TraCI subscribes to all of them anyway (people are counted apart)
                want = (*TRAFFIC_FIELDS, *(f for f in want if f == PERSON_FIELD))
            try:
                cols = self._detector_columns(tuple(f for f in want if f != PERSON_FIELD))
            except self._errors as exc:
                raise self._failure("reading detectors", exc) from exc
            nan = np.full(len(self._detector_ids), np.nan)
            arrays = [cols.get(f, nan) for f in TRAFFIC_FIELDS]
            approaches: tuple[str, ...] = ()
            persons = None
            if PERSON_FIELD in want:
                try:
                    dets, approaches = self._pedestrian_detectors()
                    count = _direct(self._sim, "lanearea", "getLastStepVehicleNumber")
                    persons = np.fromiter(map(count, dets), dtype=float, count=len(dets))
                except self._errors as exc:
                    raise self._failure("reading the pedestrian detectors", exc) from exc
            self._traffic = TrafficState(
                self._time_s, self._lane_ids, *arrays, approach_ids=approaches,
                person_count=persons,
            )  # fmt: skip
            self._traffic_fields = set(want)
        return self._traffic

    def _pedestrian_detectors(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """clearway's pedestrian detectors, and the sidewalk approach each one watches (looked
        up on the first read that wants people; most scenarios have none)."""
        if self._ped_detectors is None:
            dets = tuple(sorted(d for d in self._sim.lanearea.getIDList()
                                if d.startswith(PED_DETECTOR_PREFIX)))  # fmt: skip
            self._ped_detectors = (dets, tuple(d[len(PED_DETECTOR_PREFIX) :] for d in dets))
        return self._ped_detectors

    def _detector_columns(self, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
        # Measured on the 5x5 grid (200 detectors x 5 values), libsumo: subscribing costs
        # ~0.6 ms in *every* step (SUMO builds the results whether read or not) while 1,000
        # direct calls cost ~0.2 ms per read, so libsumo reads on demand, only ``fields``.
        if self.backend == "libsumo":
            out = {}
            for f in fields:
                get = _direct(self._sim, "lanearea", _DET_GETTERS[TRAFFIC_FIELDS.index(f)])
                out[f] = np.fromiter(map(get, self._detector_ids), dtype=float,
                                     count=len(self._detector_ids))  # fmt: skip
            return out
        rows = np.array(self._detector_rows(), dtype=float).reshape(
            len(self._detector_ids), len(_DET_VARS)
        )
        return {f: rows[:, i] for i, f in enumerate(TRAFFIC_FIELDS)}

    def _detector_rows(self) -> list[list[float]]:
        # TraCI only: 1,000 calls would be 1,000 round trips, so TraCI subscribes -- on the
        # first read, so runs that never read detectors (fixed-time) never pay for them.
        la = self._sim.lanearea
        dets = self._detector_ids
        if not self._detectors_subscribed:
            for d in dets:
                la.subscribe(d, list(_DET_VARS))
            self._detectors_subscribed = True
        res = la.getAllSubscriptionResults()
        return [[res[d][v] for v in _DET_VARS] for d in dets]

    # -- internals ---------------------------------------------------------------------------
    def _read_states(self) -> list[str]:
        # libsumo: one direct call per light costs a quarter of fetching subscription results
        # (196 lights of Luxembourg City: 0.07 vs 0.27 ms per step); TraCI subscribes (one
        # round trip).
        if self.backend == "libsumo":
            return list(map(self._get_state, self._signal_ids))
        res = self._sim.trafficlight.getAllSubscriptionResults()
        return [res[tl][tc.TL_RED_YELLOW_GREEN_STATE] for tl in self._signal_ids]

    def _setup(self) -> None:
        sim = self._sim
        self._get_state = _direct(sim, "trafficlight", "getRedYellowGreenState")
        self._set_state = _direct(sim, "trafficlight", "setRedYellowGreenState")
        try:
            self._signal_ids = tuple(sorted(sim.trafficlight.getIDList()))
            if self.backend != "libsumo":
                for tl in self._signal_ids:
                    sim.trafficlight.subscribe(tl, [tc.TL_RED_YELLOW_GREEN_STATE])
            shown = self._read_states()
            self._link_counts = {tl: len(s) for tl, s in zip(self._signal_ids, shown, strict=True)}
            dets = sorted(d for d in sim.lanearea.getIDList() if d.startswith(DETECTOR_PREFIX))
            self._detector_ids = tuple(dets)
            self._lane_ids = tuple(sim.lanearea.getLaneID(d) for d in dets)
            sim.simulation.subscribe(list(_SIM_VARS))
            res = sim.simulation.getSubscriptionResults()
        except self._errors as exc:
            raise self._failure("setting up subscriptions", exc) from exc
        self._time_s = float(res[tc.VAR_TIME])
        self._min_expected = int(res[tc.VAR_MIN_EXPECTED_VEHICLES])

    def _check_open(self) -> None:
        if self._closed:
            raise SimulationError(
                f"the simulation of {self.scenario.name!r} is closed; start a new SumoTwin"
            )

    def _failure(self, what: str, exc: BaseException) -> SimulationError:
        return SimulationError(
            f"SUMO failed while {what} in {self.scenario.name!r} at t={self._time_s_or_nan()} s: "
            f"{exc}{stderr_tail(self._stderr)}{log_tail(self.log_path)}"
        )

    def _time_s_or_nan(self) -> float:
        return getattr(self, "_time_s", float("nan"))


def _direct(sim: Any, domain: str, name: str) -> Any:
    """``sim.<domain>.<name>``, as libsumo's compiled function where there is one.

    libsumo's Python classes only forward to ``libsumo._libsumo.<domain>_<name>``; calling
    that directly saves a Python frame per call, which on a city is a third of reading its
    signals and detectors every step (Luxembourg City: 1,498 detector counts in 0.6 instead
    of 1.0 ms). TraCI connections, or a libsumo without it, get the ordinary method.
    """
    raw = getattr(sim, "_libsumo", None)
    fast = getattr(raw, f"{domain}_{name}", None) if raw is not None else None
    return fast if callable(fast) else getattr(getattr(sim, domain), name)
