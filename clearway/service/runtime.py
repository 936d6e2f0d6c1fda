"""The live runtime behind the service: one site — a SUMO twin, or field controllers over
NTCIP 1202 (:mod:`~clearway.service.sites`) — and its control loop, ticking in a background
thread, with the priority desk the routes hand requests to.

One :class:`ServiceRuntime` per app (libsumo runs one simulation per process). On a twin the
thread runs ``loop.tick(); twin.advance(tick_s)`` at ``speed`` times real time (``0``: as
fast as the machine goes); a new request wakes it at once, so its first commands do not wait
for the next scheduled tick. On field controllers it ticks on the wall clock every ``tick_s``
and never faster (traffic time is UTC), and each junction turning degraded or recovering is
audited (``field.fault`` / ``field.recovered``). Every access to the desk, the loop or the twin — the tick included —
holds :attr:`ServiceRuntime.lock`, so a request never sees a half-done tick. After each tick
a new immutable :class:`~clearway.service.live_view.LiveView` is published for the feed.

After each tick one write is queued on the process's database writer
(:class:`~clearway.storage.writer.DbWriter`), which the tick never waits for: the signal
changes the guard approved and every command it rejected (``signal.approved`` /
``signal.rejected``, per junction per change), the requests' lifecycle changes (``request``:
``served`` for a request's first control decision, then state changes) and their stored
status. On start, the requests the database holds as unfinished are taken up again
(:mod:`~clearway.service.restore`).

The class is split by concern over three modules: this one (the desk's operations, under
the lock), :mod:`~clearway.service.runtime_lifecycle` (start, tick thread, recovery, stop)
and :mod:`~clearway.service.runtime_tick` (the writes and the view after each tick).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from typing import Any

from clearway.bootstrap import PRIORITY_STRATEGIES, WiredRun
from clearway.control.priority.desk import PriorityDesk
from clearway.control.priority.feeds import MergedFeed, PushedPositions
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import PositionUpdate, PriorityRequestSpec
from clearway.control.switchable import SwitchableControl
from clearway.errors import (
    ConfigError,
    ConflictError,
    ServiceUnavailableError,
)
from clearway.field.config import FieldConfig
from clearway.network import Network, load_network
from clearway.service.clock import FIELD_CLOCK, TrafficClock
from clearway.service.live_peds import CrossingCalls
from clearway.service.live_view import EMPTY_VIEW, LiveView
from clearway.service.positions import PositionRecorder
from clearway.service.request_index import LiveRequest, RequestIndex
from clearway.service.run_config import run_config_of
from clearway.service.runtime_lifecycle import SiteLifecycle
from clearway.service.runtime_records import (
    lifecycle_entry,
    save_created,
    strategy_entry,
)
from clearway.service.runtime_tick import AfterTick
from clearway.service.runtime_transit import refuse_on_field
from clearway.service.simulated_drivers import SimulatedDrivers
from clearway.service.sites import JunctionField, Site
from clearway.service.transit_feed import TransitDesk, load_desk
from clearway.signals.safety.guard import Verdict
from clearway.sim.priority_trips import PRIORITY_VTYPE_ID
from clearway.sim.scenario import Scenario
from clearway.state.traffic import TrafficState
from clearway.storage.audit import append_entries
from clearway.storage.writer import DbWriter

log = logging.getLogger(__name__)

#: Longest a request handler waits for its write to be committed (s).
WRITE_WAIT_S = 30.0


class ServiceRuntime(SiteLifecycle, AfterTick):
    """A site (twin or field), a control loop with priority (``strategy``) on ``normal``
    control, ticking.

    Parameters
    ----------
    scenario
        What SUMO runs (``None`` with ``field``).
    strategy
        A priority strategy (``corridor`` by default; ``local``, ``none``).
    normal
        The controller between holds at first (``fixed-time``, ``max-pressure``,
        ``actuated``); operators may switch it per signal.
    speed
        Simulated seconds per real second; ``0`` runs as fast as possible.
    tick_s
        Simulated time between two control decisions (s).
    net
        The scenario's network, if already loaded.
    clock
        A fixed traffic clock (:data:`~clearway.service.clock.FIELD_CLOCK` on field
        equipment, where traffic time is UTC); by default the twin's own, re-anchored after
        every tick (none at ``speed`` 0: as fast as possible has no UTC equivalent).
    field
        Drive these field controllers instead of a twin (needs ``net``; the controllers'
        own programs are the normal control, ``strategy`` must be ``corridor``, traffic time
        is UTC and ``speed`` is 1).
    reroute
        Give a request's vehicle a new route on its way when a clearly faster one opens
        (corridor; :mod:`~clearway.control.priority.reroute`): the request shows it, the
        change is audited with its reason, and the twin's simulated vehicles take it.
    gtfs_dir
        A GTFS schedule with clearway's lines file (``CLEARWAY_GTFS_DIR``): the twin's
        fixed-time signals then give late buses of what ``/transit`` is fed conditional
        priority (:mod:`~clearway.service.runtime_transit`); GTFS times count from the twin's
        traffic time 0. Refused on field controllers.
    transit_late_threshold_s
        A bus later than this is served (s).
    """

    def __init__(
        self,
        scenario: Scenario | None,
        *,
        strategy: str = "corridor",
        normal: str = "fixed-time",
        speed: float = 1.0,
        tick_s: float = 1.0,
        backend: str = "libsumo",
        net: Network | None = None,
        clock: TrafficClock | None = None,
        field: FieldConfig | None = None,
        reroute: bool = True,
        gtfs_dir: str | None = None,
        transit_late_threshold_s: float = 60.0,
    ) -> None:
        if (scenario is None) == (field is None):
            raise ConfigError("the runtime needs either a scenario (a twin) or a field config")
        if field is not None:
            refuse_on_field(gtfs_dir)
            if net is None:
                raise ConfigError("a field runtime needs the network its controllers are in")
            if strategy != "corridor":
                raise ConfigError(
                    f"field controllers take the corridor strategy only, not {strategy!r}"
                )
            speed, clock = 1.0, clock if clock is not None else FIELD_CLOCK
        if strategy not in PRIORITY_STRATEGIES:
            raise ConfigError(
                f"the service needs a priority strategy, not {strategy!r}; choose one of "
                f"{', '.join(PRIORITY_STRATEGIES)}"
            )
        if not speed >= 0:
            raise ConfigError(f"speed must be 0 (as fast as possible) or positive, not {speed}")
        self.scenario = scenario
        self.field = field
        self.strategy = strategy
        #: Re-route a request's vehicle on its way when a clearly faster route opens
        #: (corridor only; :mod:`~clearway.control.priority.reroute`).
        self.reroute = reroute
        self._drivers = SimulatedDrivers()
        self.normal = normal
        self.speed = float(speed)
        self.tick_s = float(tick_s)
        self.backend = backend
        self.net = net if net is not None else load_network(scenario.net_file)  # type: ignore[union-attr]
        #: Held by every tick and every access from a request handler.
        self.lock = threading.RLock()
        self.error: str | None = None
        #: Audit/status writes that failed after a tick (the signals kept running).
        self.flush_failures = 0
        self._stack: ExitStack | None = None
        self._wired: WiredRun | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pushed = PushedPositions()
        self._feed: MergedFeed | None = None
        self._index = RequestIndex()
        self._verdicts: list[Verdict] = []
        self._shown: dict[str, str] = {}
        self._view: LiveView = EMPTY_VIEW
        self._fixed_clock = clock
        #: The twin's clock as of the last published tick (see :meth:`traffic_clock`).
        self._clock: TrafficClock | None = clock
        self._tick_ms = 0.0
        self._fill_of: TrafficState | None = None
        self._fill: Mapping[str, float] = {}
        self._peds: tuple[WiredRun, CrossingCalls] | None = None  # see AfterTick._pedestrians
        #: Requests not yet through a control decision: wall time of their creation (s).
        self._unserved: dict[str, float] = {}
        #: When the last tick's control decisions were made (unix s).
        self._decided_at_s = 0.0
        #: The process's one database writer, and the position updates it stores; set by
        #: :meth:`start`.
        self.writer: DbWriter | None = None
        self.positions: PositionRecorder | None = None
        #: Times a fresh twin was started after a failed tick (count).
        self.recoveries = 0
        #: What the independent safety monitor saw on the twins closed so far (none, or a bug).
        self.violations: list[Any] = []
        #: How many of the current site's monitor violations are audited (count).
        self._monitor_seen = 0
        #: How many of the current desk's finished holds are audited (count).
        self._holds_seen = 0
        self._state = "running"
        self._site: Site | None = None
        self._site_stack: ExitStack | None = None
        self._run_scenario = scenario
        #: The buses a transit operator feeds, read by the twin's fixed-time control (``None``:
        #: no GTFS schedule). GTFS and board times are the twin's traffic time.
        self.transit: TransitDesk | None = (
            load_desk(gtfs_dir, 0.0, transit_late_threshold_s) if gtfs_dir else None
        )

    # -- the desk, under the lock ----------------------------------------------------------------
    def desk(self) -> PriorityDesk:
        """The priority desk (under the lock); 503 if the runtime is not running."""
        return self._desk()

    def _desk(self) -> PriorityDesk:
        wired = self._wired
        if wired is None or wired.priority is None:
            raise ServiceUnavailableError("the live runtime is not running; try again later")
        return wired.priority

    def _now(self) -> float:
        assert self._site is not None
        return self._site.now_s()

    def now_s(self) -> float:
        """Traffic time (s): the simulation's, or UTC unix seconds on field controllers."""
        with self.lock:
            if self._site is None:
                raise ServiceUnavailableError("the live runtime is not running")
            return self._site.now_s()

    def field_status(self) -> dict[str, JunctionField]:
        """Per field junction its status (ok/degraded, reason, since); empty on a twin or
        when not running. No lock: it never waits for a tick."""
        site = self._site
        return dict(site.field_status()) if site is not None else {}

    def create(
        self,
        spec: PriorityRequestSpec,
        owner: str,
        *,
        detail: dict[str, Any] | None = None,
        simulate: bool = False,
        admit: Callable[[PriorityRequest, list[LiveRequest]], None] | None = None,
    ) -> LiveRequest:
        """Hand a request to the desk, store it and audit its creation, in that order, under
        the lock, and wake the tick thread to serve it now. ``simulate``: the twin also
        drives the vehicle (a convoy's vehicles) along the planned route.

        Raises
        ------
        UnknownEdgeError, RouteError
            From the desk: nothing is stored or audited.
        SimulationError
            SUMO refused the simulated vehicle (e.g. its id is in use): nothing is stored.
        ClearwayError
            From ``admit(record, unfinished)``, called with the planned record and the
            unfinished requests before anything is stored: the request is dropped.
        """
        with self.lock:
            desk = self._desk()
            now = self._now()
            record = desk.submit(spec, now)
            if admit is not None:
                unfinished = [
                    live for live in (self._live(r) for r in self._index.ids())
                    if not live.record.state.is_final
                ]  # fmt: skip
                try:
                    admit(record, unfinished)
                except Exception:
                    desk.cancel(record.request_id, now)
                    raise
            if simulate:
                try:
                    self.insert_vehicles(record)
                except Exception:
                    desk.cancel(record.request_id, now)
                    raise
            rid = f"pr-{secrets.token_hex(8)}"
            detail = {**(detail or {}), "simulated": simulate}
            save = save_created(rid, owner, record, now, detail, run_config_of(self))
            # Queued under the lock: before any tick's write about this request.
            saved = self._writer().submit(save)
            self.adopt(rid, owner, record, simulate)
            self._unserved[rid] = time.time()
        # Served from the next tick, which starts now, while the database commits: the
        # tick's own writes queue behind this one. Should the write fail, the request is
        # cancelled (its junctions recover) and the caller gets the error.
        self._wake.set()
        try:
            saved.result(WRITE_WAIT_S)
        except Exception:
            with self.lock:
                self._drop(rid)
            raise
        return self.get(rid)

    def cancel(self, request_id: str, by: str) -> LiveRequest:
        """Cancel a request (its junctions recover through proper clearance); stored and
        audited. Cancelling a finished request changes nothing and returns it."""
        with self.lock:
            desk = self._desk()
            live = self._live(request_id)
            if live.record.state.is_final:
                return live
            now = self._now()
            record = desk.cancel(live.desk_id, now)
            written = self._persist({request_id: record}, now, principal=by, verdicts=[])
            self._publish()
        written.result(WRITE_WAIT_S)
        return self.get(request_id)

    def renew(self, request_id: str, by: str) -> LiveRequest:
        """Its owner still needs it: it may live its ``max_duration_s`` again from now
        (audited as ``renewed``). ConflictError for a finished request."""
        with self.lock:
            desk = self._desk()
            live = self._live(request_id)
            if live.record.state.is_final:
                raise ConflictError(
                    f"request {request_id!r} is {live.record.state.value}; make a new request"
                )
            now = self._now()
            record = desk.renew(live.desk_id, now)
            entry = lifecycle_entry(
                request_id, by, "renewed", record, now, deadline_s=record.deadline_s
            )
            written = self._writer().submit(lambda s: append_entries(s, [entry]))
        written.result(WRITE_WAIT_S)
        return self.get(request_id)

    def brief(self, request_id: str) -> tuple[str, str, bool]:
        """(owner, vehicle id, finished?) of a request of this run, without waiting for a
        tick; :class:`UnknownRequestError` if there is none."""
        return self._index.brief(request_id)

    def unfinished_of(self, vehicle_id: str) -> str | None:
        """The id of this run's unfinished request for a vehicle, if any, without waiting
        for a tick (as of the last write of the requests' states)."""
        return self._index.unfinished_of(vehicle_id)

    def clock_s(self) -> float:
        """Traffic time of the last tick (s), without waiting for the current one."""
        return self._view.time_s

    def traffic_clock(self) -> TrafficClock | None:
        """Traffic time and UTC, as of the last tick (no lock): the fixed clock if one was
        given, else the twin's, anchored at the last tick; ``None`` before the first tick and
        when the twin runs as fast as it can (``speed`` 0)."""
        return self._clock

    def push_position(self, vehicle_id: str, update: PositionUpdate) -> None:
        """Hand a position of a priority vehicle (from dispatch) to the controller; the next
        tick uses it. An update older than one held already is dropped. No lock: a position
        never waits for a tick. The first position of a vehicle wakes the tick thread: the
        corridor is planned from where the vehicle really is at once."""
        first = vehicle_id not in self._pushed
        if self._pushed.push(vehicle_id, update) and first:
            self._wake.set()

    def get(self, request_id: str) -> LiveRequest:
        """One request; :class:`UnknownRequestError` if this run has none by that id."""
        with self.lock:
            self._desk()
            return self._live(request_id)

    def list(self) -> list[LiveRequest]:
        """Every request of this run (restored ones included), oldest first."""
        with self.lock:
            self._desk()
            return [self._live(rid) for rid in self._index.ids()]

    def view(self) -> LiveView:
        """The city as published after the last tick (no lock, no simulator access)."""
        return self._view

    def normal_control(self) -> SwitchableControl:
        """The per-signal normal strategies (ConflictError on field controllers, which run
        their own programs)."""
        if self.field is not None:
            raise ConflictError(
                "the junctions are run by field controllers on their own programs; their "
                "normal strategy is set in the controller, not by clearway"
            )
        wired = self._wired
        if wired is None or wired.normal_control is None:
            raise ServiceUnavailableError("the live runtime is not running; try again later")
        return wired.normal_control

    def switch_strategy(self, signal_id: str, strategy: str, by: str) -> bool:
        """Run ``signal_id`` under normal ``strategy`` from the next tick; audited. Returns
        whether anything changed (``UnknownSignalError``, ``ConfigError`` for bad input)."""
        with self.lock:
            control = self.normal_control()
            old = control.strategy_of(signal_id)
            changed = control.switch(signal_id, strategy, self._now())
            if not changed:
                return False
            entry = strategy_entry(by, signal_id, old, strategy, self._now())
            written = self._writer().submit(lambda s: append_entries(s, [entry]))
            self._publish()
        written.result(WRITE_WAIT_S)
        return True

    def _live(self, request_id: str) -> LiveRequest:
        return self._index.live(self._desk(), request_id)

    def adopt(self, rid: str, owner: str, record: PriorityRequest, simulated: bool) -> None:
        """Serve a desk record under the service id ``rid`` (under the lock)."""
        assert self._site is not None
        self._index.add(rid, owner, record, simulated)
        self._site.track_vehicle(record.spec.requester_id)

    def insert_vehicles(self, record: PriorityRequest) -> None:
        """Drive the request's vehicle(s) in the twin along its planned route, leaving now
        (ConflictError on field controllers)."""
        assert self._site is not None
        convoy = record.spec.convoy
        self._site.insert_vehicles(
            record.spec.requester_id, record.route, type_id=PRIORITY_VTYPE_ID,
            count=convoy.vehicle_count if convoy is not None else 1,
        )  # fmt: skip
