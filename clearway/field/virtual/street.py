"""The virtual street: the SUMO twin run as the city, its signals driven by virtual NTCIP
controllers that clearway reaches only over SNMP — hardware in the loop without hardware.

One process holds the simulation, one :class:`DualRingController` per configured traffic
light (its own NEMA logic, clearance and backup timer), each behind its own SNMP agent on
127.0.0.1 (its own UDP port and engine id, as separate cabinets are), and the street's
independent safety monitor, which checks every simulation step of what the signals show.
Time runs at ``speed`` times real time; traffic time ``t`` is shown to the outside as UTC
``epoch_utc_s + t / speed``.

Optionally it plays dispatch and a vehicle's AVL unit for priority trips: it asks a running
``clearway serve`` for free passage with the trip's origin and destination as WGS84
coordinates, drives the vehicle along the route the service answered, and reports its GPS
positions (lat, lon, heading, speed, accuracy, UTC timestamp) as a real unit would.

Everything it sees is written to a status file (JSON, replaced atomically every step) for
tests, demos and benchmarks: each controller's mode (own program / central control), when it
last heard a SET and when it fell back, the monitor's violations, each trip's times and stops.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clearway.field.snmp_agent import NtcipAgent
from clearway.field.snmp_client import Credentials, SnmpRunner, SnmpV2cCommunity, SnmpV3Credentials
from clearway.field.virtual.dispatch import DispatchClient, TripPlan
from clearway.field.virtual.mib import ControllerMib
from clearway.field.virtual.nema_controller import DualRingController
from clearway.field.virtual.twin_cabinets import TwinCabinets
from clearway.monitor import SafetyMonitor
from clearway.network.geo import xy_to_lonlat
from clearway.network.geometry import edge_point
from clearway.network.model import Network
from clearway.signals.model import Intersection
from clearway.signals.nema import PhaseMap
from clearway.sim.twin import SumoTwin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VirtualCabinet:
    """One virtual controller as the street runs it.

    Attributes
    ----------
    signal_id
        The traffic light it drives.
    phase_map
        Its phases over the light's links.
    port
        UDP port of its SNMP agent on 127.0.0.1.
    credentials
        What its agent accepts (an SNMPv3 user, or a v2c community when configured so).
    backup_time_s
        Its ``unitBackupTime`` until clearway sets one (s).
    detector_lanes
        Lane of its vehicle detector 1, 2, ...
    """

    signal_id: str
    phase_map: PhaseMap
    port: int
    credentials: Credentials
    backup_time_s: float
    detector_lanes: tuple[str, ...]


@dataclass
class _TripState:
    plan: TripPlan
    request_id: str | None = None
    route: tuple[str, ...] = ()
    inserted: bool = False
    departed_s: float | None = None
    arrived_s: float | None = None
    stops: int = 0
    moving: bool = False
    last_sample_s: float = -math.inf
    seq: int = 0
    error: str | None = None
    samples_sent: int = 0


@dataclass
class StreetStatus:
    """What the street writes to its status file."""

    time_s: float = 0.0
    utc_s: float = 0.0
    running: bool = True
    controllers: dict[str, dict] = field(default_factory=dict)
    violations: int = 0
    violations_by_rule: dict[str, int] = field(default_factory=dict)
    first_violation: str | None = None
    trips: dict[str, dict] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class VirtualStreet:
    """The twin, its virtual controllers and their agents (see the module docstring).

    Parameters
    ----------
    twin
        A started SUMO twin (the street); the caller closes it.
    net, models
        The network and the intersection models of its signals (for the monitor and the
        controllers' timings, which are never shorter than the model's).
    cabinets
        The virtual controllers.
    speed
        Traffic seconds per wall-clock second.
    status_path
        Where the status JSON goes (``None``: not written).
    trips, dispatch
        Priority trips to ask clearway for and drive, and the client that talks to it.
    """

    def __init__(
        self,
        twin: SumoTwin,
        net: Network,
        models: Mapping[str, Intersection],
        cabinets: Sequence[VirtualCabinet],
        *,
        speed: float = 1.0,
        status_path: Path | None = None,
        trips: Sequence[TripPlan] = (),
        dispatch: DispatchClient | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.twin, self.net, self.speed = twin, net, speed
        self.status_path = status_path
        self.lock = threading.Lock()
        t0 = twin.now_s()
        self.cabinets = {c.signal_id: c for c in cabinets}
        self._driven = TwinCabinets(
            twin, net, models, {c.signal_id: c.phase_map for c in cabinets},
            backup_time_s={c.signal_id: c.backup_time_s for c in cabinets},
        )  # fmt: skip
        self.controllers: dict[str, DualRingController] = self._driven.controllers
        self.mibs: dict[str, ControllerMib] = {}
        for cab in cabinets:
            self.mibs[cab.signal_id] = ControllerMib(
                self.controllers[cab.signal_id], detector_count=len(cab.detector_lanes),
                lock=self.lock, clock=self._now_s,
            )  # fmt: skip
        self.monitor = SafetyMonitor(net, models)
        watched = tuple(self.cabinets)
        twin.add_step_listener(
            lambda t, states: self.monitor.observe(t, {s: states[s] for s in watched})
        )
        self.runner = SnmpRunner("clearway-virtual-street")
        self.agents: list[NtcipAgent] = []
        self._trips = [_TripState(p) for p in trips]
        self.dispatch = dispatch
        self.status = StreetStatus()
        self._epoch_wall = time.time() - t0 / speed
        self._stop = threading.Event()

    # -- clocks ------------------------------------------------------------------------------
    def _now_s(self) -> float:
        return self.twin.now_s()

    def utc_of(self, time_s: float) -> float:
        """UTC (unix s) the street shows for traffic time ``time_s``."""
        return self._epoch_wall + time_s / self.speed

    # -- lifecycle ---------------------------------------------------------------------------
    def start_agents(self) -> None:
        """Bind every controller's SNMP agent (raises naming the port that cannot be bound)."""
        for sid, cab in self.cabinets.items():
            creds = cab.credentials
            agent = NtcipAgent(
                self.mibs[sid], "127.0.0.1", cab.port,
                v3_users=[creds] if isinstance(creds, SnmpV3Credentials) else [],
                v2c_community=creds if isinstance(creds, SnmpV2cCommunity) else None,
            )  # fmt: skip
            self.runner.run(agent.start(), timeout_s=10.0)
            self.agents.append(agent)

    def stop(self) -> None:
        """Ask :meth:`run` to end after the current step."""
        self._stop.set()

    def close(self) -> None:
        """Stop the agents and the SNMP loop (the twin is the caller's)."""
        for agent in self.agents:
            try:
                self.runner.run(agent.stop(), timeout_s=5.0)
            except Exception:  # a failed stop must not keep the others bound
                log.exception("stopping agent %s", agent.address)
        self.agents.clear()
        self.runner.close()
        if self.dispatch is not None:
            self.dispatch.close()

    def run(self, duration_s: float) -> StreetStatus:
        """Run the street for ``duration_s`` of traffic time (or until :meth:`stop`)."""
        step = self.twin.step_length_s
        end = self.twin.now_s() + duration_s
        while not self._stop.is_set() and self.twin.now_s() + 1e-9 < end and self.twin.running:
            self._tick()
            self.twin.advance(step)
            self._write_status()
            delay = self.utc_of(self.twin.now_s()) - time.time()
            if delay > 0:
                self._stop.wait(delay)
        self.status.running = False
        self._write_status()
        return self.status

    # -- one step ----------------------------------------------------------------------------
    def _tick(self) -> None:
        now = self.twin.now_s()
        with self.lock:
            counts, occupancy = self._driven.step()
            for sid, mib in self.mibs.items():
                lanes = self.cabinets[sid].detector_lanes
                vol = [counts.get(ln, 0.0) for ln in lanes]
                occ = [min(max(occupancy.get(ln, 0.0), 0.0), 100.0) for ln in lanes]
                mib.set_detectors(vol, occ)
        self._drive_trips(now)

    def _drive_trips(self, now: float) -> None:
        if not self._trips or self.dispatch is None:
            return
        positions = self.twin.priority_positions()
        for trip in self._trips:
            plan = trip.plan
            try:
                if trip.request_id is None and now >= plan.request_at_s:
                    trip.request_id, trip.route = self.dispatch.request(plan, self._lonlat_of(plan))
                if trip.request_id is not None and not trip.inserted and now >= plan.depart_s:
                    self.twin.track_priority_vehicle(plan.vehicle_id)
                    self.twin.insert_vehicle(plan.vehicle_id, trip.route, type_id=plan.type_id)
                    trip.inserted = True
            except Exception as exc:  # a refused request is reported, the street goes on
                trip.error = f"{type(exc).__name__}: {exc}"
                self.status.errors.append(f"trip {plan.vehicle_id}: {trip.error}")
                trip.inserted = True
                continue
            pos = positions.get(plan.vehicle_id)
            if pos is None:
                if trip.departed_s is not None and trip.arrived_s is None:
                    trip.arrived_s = now
                continue
            if trip.departed_s is None:
                trip.departed_s = now
            if pos.speed_mps >= 0.5:
                trip.moving = True
            elif pos.speed_mps < 0.1 and trip.moving:
                trip.stops += 1  # came to a halt (as SUMO's waitingCount counts stops)
                trip.moving = False
            if now - trip.last_sample_s >= plan.sample_period_s - 1e-9:
                trip.last_sample_s = now
                self._report(trip, pos.place.edge_id, pos.place.offset_m, pos.speed_mps, now)

    def _report(self, trip: _TripState, edge: str, offset_m: float, speed_mps: float, now: float) -> None:
        x, y = edge_point(self.net, edge, offset_m)
        ahead = edge_point(self.net, edge, min(offset_m + 1.0, self.net.edge(edge).length_m))
        back = edge_point(self.net, edge, max(offset_m - 1.0, 0.0))
        heading = math.degrees(math.atan2(ahead[0] - back[0], ahead[1] - back[1])) % 360.0
        lon, lat = xy_to_lonlat(self.net.geo, x, y)
        trip.seq += 1
        assert self.dispatch is not None and trip.request_id is not None
        self.dispatch.position(
            trip.request_id, seq=trip.seq, lat=lat, lon=lon, heading_deg=heading,
            speed_mps=speed_mps, accuracy_m=trip.plan.accuracy_m, utc_s=self.utc_of(now),
        )  # fmt: skip
        trip.samples_sent += 1

    def _lonlat_of(self, plan: TripPlan) -> tuple[tuple[float, float], tuple[float, float]]:
        o = edge_point(self.net, plan.from_edge, 0.0)
        d = edge_point(self.net, plan.to_edge, self.net.edge(plan.to_edge).length_m)
        return xy_to_lonlat(self.net.geo, *o), xy_to_lonlat(self.net.geo, *d)

    # -- status ------------------------------------------------------------------------------
    def _write_status(self) -> None:
        st = self.status
        now = self.twin.now_s()
        st.time_s, st.utc_s = now, self.utc_of(now)
        with self.lock:
            for sid, ctl in self.controllers.items():
                c = ctl.controls
                st.controllers[sid] = {
                    "own_program": ctl.in_backup or not (c.hold or c.force_off or c.omit or c.veh_call),
                    "in_backup": ctl.in_backup,
                    "backup_since_utc": None if ctl.backup_since_s is None else self.utc_of(ctl.backup_since_s),
                    "last_control_utc": None if ctl.last_control_s is None else self.utc_of(ctl.last_control_s),
                    "backup_time_s": ctl.backup_time_s,
                    "controls": {k: sorted(getattr(c, k)) for k in ("hold", "force_off", "omit", "veh_call")},
                    "greens": sorted(ctl.greens),
                    "state": ctl.state_string(),
                }
        v = self.monitor.violations
        st.violations = len(v)
        st.violations_by_rule = self.monitor.counts_by_rule()
        st.first_violation = str(v[0]) if v else None
        for trip in self._trips:
            st.trips[trip.plan.vehicle_id] = {
                "request_id": trip.request_id, "route": list(trip.route),
                "departed_s": trip.departed_s, "arrived_s": trip.arrived_s, "stops": trip.stops,
                "travel_time_s": None if trip.arrived_s is None or trip.departed_s is None
                else trip.arrived_s - trip.departed_s,
                "samples_sent": trip.samples_sent, "error": trip.error,
            }  # fmt: skip
        if self.dispatch is not None:
            st.errors = st.errors[-20:] + [e for e in self.dispatch.take_errors()]
        if self.status_path is None:
            return
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(st.__dict__, indent=1, default=str))
        os.replace(tmp, self.status_path)
