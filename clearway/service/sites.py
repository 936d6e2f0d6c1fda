"""Where the live runtime's signals are: a SUMO twin, or field controllers over NTCIP 1202.

A *site* is what :class:`~clearway.service.runtime.ServiceRuntime` ticks. Both kinds answer
the same few questions — traffic time now (:meth:`now_s`), what to do after a tick
(:meth:`advance`: the twin steps its simulation; the street outside moves by itself, so a
field site only shows the monitor what the controllers reported), whether it still runs,
and :meth:`close` — so the runtime's code does not branch on twin against field.

A twin ticks at ``speed`` times real time and a new request wakes it at once
(:attr:`early_ticks`). A field site ticks on the wall clock (traffic time = UTC unix
seconds) at the control period and never faster: each tick is one exchange with every
controller, and a controller's leases are timed in real seconds.

A field site also reports each junction's field status (:meth:`FieldSite.field_status`)
and hands the runtime each change of it once (:meth:`FieldSite.take_events`): a junction
turning degraded (unreachable, refused credentials, a refused SET, a reply that does not
match) and recovering, for the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

from clearway.bootstrap import WiredRun, open_twin_run
from clearway.control.priority.feeds import PushedPositions
from clearway.control.transit_control import BusSource
from clearway.errors import ConflictError
from clearway.field.config import FieldConfig
from clearway.field.wiring import FieldRun, WallClock, open_field_run
from clearway.network.model import Network
from clearway.ports import PriorityVehicleFeed
from clearway.signals.build import build_intersections
from clearway.sim.scenario import Scenario

#: Kinds of audit record of a junction's field status.
FIELD_FAULT_KIND = "field.fault"
FIELD_RECOVERED_KIND = "field.recovered"


@dataclass(frozen=True, slots=True)
class JunctionField:
    """One field junction's status now.

    Attributes
    ----------
    signal_id
        Its traffic light.
    address
        Its controller's ``host:port``.
    status
        ``ok`` or ``degraded`` (not commanded; its controller runs its own program).
    reason
        Why it is degraded (``None`` when ok); never a secret.
    since_s
        Traffic time it has been in this status since (s; UTC unix seconds on the field).
    """

    signal_id: str
    address: str
    status: Literal["ok", "degraded"]
    reason: str | None
    since_s: float


@dataclass(frozen=True, slots=True)
class FieldEvent:
    """A junction turned degraded (``fault``) or answers again (``recovered``; ``reason``: the
    last reason it was degraded for)."""

    kind: Literal["fault", "recovered"]
    signal_id: str
    address: str
    reason: str | None
    time_s: float


class Site(Protocol):
    """What the runtime ticks (see the module docstring)."""

    #: The wired run: guard, loop, monitor, desk; ``wired.twin`` answers ``now_s`` and
    #: ``read_signal_states`` for the live view.
    wired: WiredRun
    #: A new request may tick it before the next scheduled tick.
    early_ticks: bool

    @property
    def running(self) -> bool: ...

    def now_s(self) -> float: ...

    def advance(self, tick_s: float) -> None: ...

    def feeds(self) -> Sequence[PriorityVehicleFeed]: ...

    def track_vehicle(self, vehicle_id: str) -> None: ...

    def untrack_vehicle(self, vehicle_id: str) -> None: ...

    def insert_vehicles(self, vehicle_id: str, route: Sequence[str], *, type_id: str,
                        count: int) -> None: ...  # fmt: skip

    def field_status(self) -> Mapping[str, JunctionField]: ...

    def take_events(self) -> list[FieldEvent]: ...


class TwinSite:
    """The SUMO twin as the runtime's site (``wired.twin`` is the twin itself)."""

    early_ticks = True

    def __init__(self, wired: WiredRun) -> None:
        self.wired = wired

    @property
    def running(self) -> bool:
        """The simulation has not ended."""
        return self.wired.twin.running

    def now_s(self) -> float:
        """Simulation time (s)."""
        return self.wired.twin.now_s()

    def advance(self, tick_s: float) -> None:
        """Step the simulation ``tick_s`` (s)."""
        self.wired.twin.advance(tick_s)

    def feeds(self) -> Sequence[PriorityVehicleFeed]:
        """The twin's own priority vehicles (exact positions)."""
        return (self.wired.twin,)

    def track_vehicle(self, vehicle_id: str) -> None:
        """Report ``vehicle_id``'s position as a priority vehicle's."""
        self.wired.twin.track_priority_vehicle(vehicle_id)

    def untrack_vehicle(self, vehicle_id: str) -> None:
        """Stop reporting ``vehicle_id``."""
        self.wired.twin.untrack_priority_vehicle(vehicle_id)

    def insert_vehicles(self, vehicle_id: str, route: Sequence[str], *, type_id: str,
                        count: int) -> None:  # fmt: skip
        """Drive ``count`` vehicles along ``route``, leaving now."""
        self.wired.twin.insert_priority_vehicles(vehicle_id, route, type_id=type_id, count=count)

    def field_status(self) -> Mapping[str, JunctionField]:
        """None: the twin has no field controllers."""
        return {}

    def take_events(self) -> list[FieldEvent]:
        """None: the twin has no field controllers."""
        return []


class FieldSite:
    """Field controllers as the runtime's site; also the live view's source of signal states
    (``wired.twin`` is this site: the states read at the last tick, no extra exchange)."""

    early_ticks = False

    def __init__(self, run: FieldRun, clock: WallClock) -> None:
        self.run = run
        self.clock = clock
        self.wired = WiredRun(run.net, run.guard, self, run.monitor, run.loop,  # type: ignore[arg-type]
                              run.priority, None)  # fmt: skip
        started = clock.now_s()
        self._status = {
            sid: JunctionField(sid, self.address(sid), "ok", None, started)
            for sid in run.signals.signal_ids()
        }
        self._events: list[FieldEvent] = []

    def address(self, signal_id: str) -> str:
        """``host:port`` of the controller of ``signal_id``."""
        return self.run.signals.controllers[signal_id].target.address

    @property
    def running(self) -> bool:
        """Always: the street does not end (a fault degrades junctions, not the site)."""
        return True

    def now_s(self) -> float:
        """Traffic time: UTC unix seconds (s)."""
        return self.clock.now_s()

    def read_signal_states(self) -> Mapping[str, str]:
        """What each controller showed at the last tick, as link states."""
        return {sid: t.state for sid, t in self.run.loop.timers.items()}

    def advance(self, tick_s: float) -> None:
        """After a tick: the monitor checks what the controllers reported, and field status
        changes are noted (the street moves by itself; the runtime paces the ticks)."""
        now = self.clock.now_s()
        states = self.read_signal_states()
        if states:
            self.run.monitor.observe(now, states)
        self._note_faults(now)

    def feeds(self) -> Sequence[PriorityVehicleFeed]:
        """None of its own: positions come from dispatch (pushed)."""
        return ()

    def track_vehicle(self, vehicle_id: str) -> None:
        """Nothing to track: the field's vehicles report their own positions."""

    def untrack_vehicle(self, vehicle_id: str) -> None:
        """Nothing tracked."""

    def insert_vehicles(self, vehicle_id: str, route: Sequence[str], *, type_id: str,
                        count: int) -> None:  # fmt: skip
        """Refused: a street of field controllers has no simulated vehicles."""
        raise ConflictError(
            "simulate: this service drives field controllers, which have no simulated "
            "vehicles; send the vehicle's GPS positions instead (simulate false)"
        )

    def field_status(self) -> Mapping[str, JunctionField]:
        """Every configured junction's status now."""
        return dict(self._status)

    def take_events(self) -> list[FieldEvent]:
        """The status changes since the last call, in order."""
        out, self._events = self._events, []
        return out

    def _note_faults(self, now_s: float) -> None:
        # One event per change of status: a reason that changes while degraded (no reply to
        # a GET, then to the SET that reconnects) is shown, not audited again.
        degraded = self.run.signals.degraded
        for sid, st in self._status.items():
            reason = degraded.get(sid)
            if reason is not None and st.status == "ok":
                self._status[sid] = JunctionField(sid, st.address, "degraded", reason, now_s)
                self._events.append(FieldEvent("fault", sid, st.address, reason, now_s))
            elif reason is not None and reason != st.reason:
                self._status[sid] = JunctionField(sid, st.address, "degraded", reason, st.since_s)
            elif reason is None and st.status == "degraded":
                self._status[sid] = JunctionField(sid, st.address, "ok", None, now_s)
                self._events.append(FieldEvent("recovered", sid, st.address, st.reason, now_s))


@contextmanager
def open_twin_site(
    scenario: Scenario,
    *,
    strategy: str,
    normal: str,
    backend: str,
    tick_s: float,
    net: Network,
    pushed: PushedPositions,
    buses: BusSource | None = None,
) -> Iterator[TwinSite]:
    """A started twin with the loop wired (``pushed``: positions from dispatch; ``buses``:
    late buses get conditional priority from fixed-time control)."""
    with open_twin_run(
        scenario, strategy=strategy, normal=normal, backend=backend, tick_s=tick_s, net=net,
        extra_feed=pushed, switchable=True,
        bus_source=None if buses is None else (lambda _twin: buses),
    ) as wired:  # fmt: skip
        yield TwinSite(wired)


@contextmanager
def open_field_site(
    cfg: FieldConfig,
    net: Network,
    *,
    tick_s: float,
    pushed: PushedPositions,
    clock: WallClock | None = None,
) -> Iterator[FieldSite]:
    """Field controllers wired: the controllers' own programs as normal control, the corridor
    on their phases (:class:`~clearway.control.priority.field_preemption.FieldPreemption`),
    traffic time = UTC. On exit every controller is released (its own program at once).

    Raises
    ------
    ConfigError
        If the config contradicts the network (every mismatch named), or a credential
        reference cannot be resolved.
    """
    clock = clock or WallClock()
    models = build_intersections(net, None)
    with open_field_run(cfg, net, models, tick_s=tick_s, feed=pushed, clock=clock) as run:
        yield FieldSite(run, clock)


__all__ = [
    "FIELD_FAULT_KIND",
    "FIELD_RECOVERED_KIND",
    "FieldEvent",
    "FieldSite",
    "JunctionField",
    "Site",
    "TwinSite",
    "open_field_site",
    "open_twin_site",
]
