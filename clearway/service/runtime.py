"""The live runtime behind the service: one SUMO twin and its control loop, ticking in a
background thread, with the priority desk the routes hand requests to.

One :class:`ServiceRuntime` per app (libsumo runs one simulation per process). The thread
runs ``loop.tick(); twin.advance(tick_s)`` at ``speed`` times real time (``0``: as fast as
the machine goes); a new request wakes it at once, so its first commands do not wait for the
next scheduled tick. Every access to the desk, the loop or the twin — the tick included —
holds :attr:`ServiceRuntime.lock`, so a request never sees a half-done tick. After each tick
a new immutable :class:`~clearway.service.live_view.LiveView` is published for the feed.

After each tick one write is queued on the process's database writer
(:class:`~clearway.storage.writer.DbWriter`), which the tick never waits for: the signal
changes the guard approved and every command it rejected (``signal.approved`` /
``signal.rejected``, per junction per change), the requests' lifecycle changes (``request``:
``served`` for a request's first control decision, then state changes) and their stored
status. On start, the requests the database holds as unfinished are taken up again
(:mod:`~clearway.service.restore`).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from clearway.bootstrap import PRIORITY_STRATEGIES, WiredRun, open_twin_run
from clearway.control.priority.desk import PriorityDesk
from clearway.control.priority.feeds import MergedFeed, PushedPositions
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import PositionUpdate, PriorityRequestSpec
from clearway.control.switchable import SwitchableControl
from clearway.errors import (
    ConfigError,
    ConflictError,
    ImplausiblePositionError,
    ServiceUnavailableError,
)
from clearway.network import Network, load_network
from clearway.service import live_state
from clearway.service.live_view import EMPTY_VIEW, LiveView
from clearway.service.positions import PositionRecorder
from clearway.service.request_index import LiveRequest, RequestIndex
from clearway.service.restore import restore_requests
from clearway.service.runtime_records import (
    changed_events,
    lifecycle_entry,
    save_changes,
    save_created,
    served_entry,
    signal_entries,
    strategy_entry,
)
from clearway.signals.safety.guard import Verdict
from clearway.sim.priority_trips import PRIORITY_VTYPE_ID, write_priority_vtype
from clearway.sim.scenario import Scenario
from clearway.state.traffic import TrafficState
from clearway.storage.audit import AuditEntry, append_entries
from clearway.storage.writer import DbWriter

log = logging.getLogger(__name__)

#: Shortest pause between two ticks (s): lets request handlers take the lock at any speed.
_MIN_PAUSE_S = 0.001
#: Audit kind of a request whose vehicle sent a position that was refused (implausible ...).
FLAGGED_KIND = "request.flagged"
#: What the audit log says of a refused position that is not an implausibility.
NOT_PLACED = "the position could not be placed on the network or the route"
#: Failed ticks after which the runtime stays stopped instead of starting a fresh twin.
MAX_RECOVERIES = 5
#: Longest a request handler waits for its write to be committed (s).
WRITE_WAIT_S = 30.0


class ServiceRuntime:
    """A twin, a control loop with priority (``strategy``) on ``normal`` control, ticking.

    Parameters
    ----------
    scenario
        What SUMO runs.
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
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        strategy: str = "corridor",
        normal: str = "fixed-time",
        speed: float = 1.0,
        tick_s: float = 1.0,
        backend: str = "libsumo",
        net: Network | None = None,
    ) -> None:
        if strategy not in PRIORITY_STRATEGIES:
            raise ConfigError(
                f"the service needs a priority strategy, not {strategy!r}; choose one of "
                f"{', '.join(PRIORITY_STRATEGIES)}"
            )
        if not speed >= 0:
            raise ConfigError(f"speed must be 0 (as fast as possible) or positive, not {speed}")
        self.scenario = scenario
        self.strategy = strategy
        self.normal = normal
        self.speed = float(speed)
        self.tick_s = float(tick_s)
        self.backend = backend
        self.net = net if net is not None else load_network(scenario.net_file)
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
        self._tick_ms = 0.0
        self._fill_of: TrafficState | None = None
        self._fill: Mapping[str, float] = {}
        #: Requests not yet through a control decision: wall time of their creation (s).
        self._unserved: dict[str, float] = {}
        #: The process's one database writer, and the position updates it stores; set by
        #: :meth:`start`.
        self.writer: DbWriter | None = None
        self.positions: PositionRecorder | None = None
        #: Times a fresh twin was started after a failed tick (count).
        self.recoveries = 0
        #: What the independent safety monitor saw on the twins closed so far (none, or a bug).
        self.violations: list[Any] = []
        self._state = "running"
        self._twin_stack: ExitStack | None = None
        self._run_scenario = scenario

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, sessions: sessionmaker[Session]) -> None:
        """Start the twin, take up the stored unfinished requests, start ticking; requests
        and audit go to ``sessions``."""
        if self._thread is not None:
            raise ConfigError("the runtime is started already")
        stack = ExitStack()
        try:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clearway-serve-")))
            vtype = write_priority_vtype(
                tmp / "priority.vtype.add.xml", demand_scale=self.scenario.demand_scale
            )
            self._run_scenario = replace(
                self.scenario, additional_files=(*self.scenario.additional_files, vtype)
            )
            self.writer = DbWriter(sessions).start()
            # Closed last on exit (a stack unwinds backwards): the twin first, then the
            # queued writes.
            stack.callback(self.writer.stop)
            self._stack = stack
            with self.lock:
                self._open_twin()
        except BaseException:
            self._close_twin()
            self._stack = None
            stack.close()
            raise
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="clearway-runtime", daemon=True)
        self._thread.start()

    def _open_twin(self) -> None:
        """A fresh twin and control loop, and the unfinished requests taken up (under the
        lock). Its signals start on their own programs; the loop's first tick takes them over
        through the guard, so every signal shows a state the guard approved from then on."""
        assert self.writer is not None
        self._pushed = PushedPositions()  # the twin's clock starts again: old stamps mislead
        twin_stack = ExitStack()
        try:
            wired = twin_stack.enter_context(
                open_twin_run(
                    self._run_scenario, strategy=self.strategy, normal=self.normal,
                    backend=self.backend, tick_s=self.tick_s, net=self.net,
                    extra_feed=self._pushed, switchable=True,
                )
            )  # fmt: skip
        except BaseException:
            twin_stack.close()
            raise
        wired.loop.on_verdict = self._verdicts.append
        self._twin_stack, self._wired = twin_stack, wired
        self._feed = MergedFeed(wired.twin, self._pushed)
        self._index = RequestIndex()
        self._unserved.clear()
        self._shown.clear()
        self._verdicts.clear()
        self.positions = PositionRecorder(self.writer)
        restore_requests(self, self.writer)
        self._publish()

    def _close_twin(self) -> None:
        if self._wired is not None:
            self.violations += list(self._wired.monitor.violations)
        stack, self._twin_stack, self._wired = self._twin_stack, None, None
        if stack is not None:
            try:
                stack.close()
            except Exception:  # a dead simulator may fail to close: it is gone either way
                log.exception("closing the failed twin")

    def _recover(self, exc: BaseException) -> bool:
        """After a failed tick (the simulator died, an adapter error): report it, drop the
        twin, start a fresh one and take the unfinished requests up again. Returns whether
        the runtime runs again."""
        self.error = f"{type(exc).__name__}: {exc}"
        self._state = "recovering"
        self._view = replace(self._view, running=False, error=self.error)
        self._close_twin()
        if self.recoveries >= MAX_RECOVERIES:
            log.error("the runtime failed %d times; it stays stopped", self.recoveries + 1)
            self._state = "failed"
            return False
        if self.writer is not None:
            # What the ticks before the failure wrote must be in the database before the
            # requests are read back from it.
            with contextlib.suppress(Exception):
                self.writer.run(lambda _s: None, timeout_s=5.0)
        try:
            self._open_twin()
        except Exception:
            log.exception("could not start a fresh twin after a failure")
            self._state = "failed"
            return False
        self.recoveries += 1
        self._state = "running"
        log.warning("the runtime recovered from %s (recovery %d)", self.error, self.recoveries)
        return True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop ticking (after the current tick), then close the twin. Idempotent."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("the runtime thread did not stop within %.1f s", timeout_s)
        with self.lock:
            self._close_twin()
            if self._stack is not None:
                self._stack.close()
            self._stack = None
            if self._state == "running":
                self._state = "stopped"
            self._view = replace(self._view, running=False, error=self.error)
        self._thread = None

    @property
    def running(self) -> bool:
        """The tick thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> str:
        """``running``, ``recovering`` (after a failure), ``stopped`` or ``failed``."""
        if self._state == "running" and not self.running:
            return "stopped"
        return self._state

    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            with self.lock:
                wired = self._wired
                if wired is None or not wired.twin.running:
                    log.info("the simulation has ended; the runtime stops ticking")
                    self._view = replace(self._view, running=False)
                    return
                started = time.perf_counter()
                try:
                    wired.loop.tick()
                    wired.twin.advance(self.tick_s)
                except Exception as exc:  # the simulator died, an adapter failed ...
                    log.exception("the control tick failed; starting a fresh twin")
                    if not self._recover(exc):
                        return
                    continue
                self._tick_ms = (time.perf_counter() - started) * 1e3
                self._flush()
                self._publish()
            delay = 0.0
            if self.speed > 0:
                next_t += self.tick_s / self.speed
                delay = next_t - time.monotonic()
                if delay < 0:  # fell behind: do not race to catch up
                    next_t, delay = time.monotonic(), 0.0
            if self._wake.wait(max(delay, _MIN_PAUSE_S)):
                # A new request: tick now, and keep the pace from here.
                self._wake.clear()
                next_t = time.monotonic()

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
        assert self._wired is not None
        return self._wired.twin.now_s()

    def now_s(self) -> float:
        """Simulation time (s)."""
        with self.lock:
            if self._wired is None:
                raise ServiceUnavailableError("the live runtime is not running")
            return self._wired.twin.now_s()

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
            save = save_created(rid, owner, record, now, {**(detail or {}), "simulated": simulate})
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

    def clock_s(self) -> float:
        """Traffic time of the last tick (s), without waiting for the current one."""
        return self._view.time_s

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
        """The per-signal normal strategies."""
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
        assert self._wired is not None
        self._index.add(rid, owner, record, simulated)
        self._wired.twin.track_priority_vehicle(record.spec.requester_id)

    def insert_vehicles(self, record: PriorityRequest) -> None:
        """Drive the request's vehicle(s) in the twin along its planned route, leaving now."""
        assert self._wired is not None
        convoy = record.spec.convoy
        self._wired.twin.insert_priority_vehicles(
            record.spec.requester_id, record.route, type_id=PRIORITY_VTYPE_ID,
            count=convoy.vehicle_count if convoy is not None else 1,
        )  # fmt: skip

    # -- after a tick --------------------------------------------------------------------------
    def _flush(self) -> None:
        """Audit this tick's signal changes and the requests' changes in one batch."""
        desk = self._desk()
        changed = self._index.changed(desk)
        verdicts, self._verdicts[:] = list(self._verdicts), []
        served = []
        if self._unserved:
            held = getattr(desk, "held", frozenset())
            done = time.time()
            for rid, created in self._unserved.items():
                record = desk.request(self._index.desk_id(rid))
                served.append(served_entry(
                    rid, record, self._now(), verdicts, held, self.strategy,
                    (done - created) * 1e3,
                ))  # fmt: skip
            self._unserved.clear()
        served += self._flags(desk)
        if changed or verdicts or served:
            self._persist(changed, self._now(), principal=None, verdicts=verdicts, extra=served)

    def _flags(self, desk: PriorityDesk) -> list[AuditEntry]:
        """``request.flagged`` for each request whose vehicle's position was just refused
        (implausible, off the network ...): once per new reason."""
        out = []
        for rid in self._index.ids():
            owner, _, finished = self._index.brief(rid)
            if finished:
                continue
            found = desk.feed_error(self._index.desk_id(rid))
            if found is None or not self._index.flag(rid, found[1]):
                continue
            kind, reason = found
            # The audit log is kept for good and must hold no place: an implausibility says
            # how fast, never where; any other reason (which may name an edge) by kind only.
            said = reason if kind == ImplausiblePositionError.__name__ else NOT_PLACED
            out.append(AuditEntry(
                FLAGGED_KIND, request_id=rid,
                payload={"kind": kind, "reason": said, "time_s": self._now(), "owner": owner},
            ))  # fmt: skip
        return out

    def _persist(
        self,
        changed: dict[str, PriorityRequest],
        now: float,
        *,
        principal: str | None,
        verdicts: list[Verdict],
        extra: list[AuditEntry] | None = None,
    ) -> Future[None]:
        """Queue the write of request changes and audit entries (in the queue's order)."""
        entries = signal_entries(verdicts, self._shown)
        entries += extra or []
        entries += changed_events(changed, self._index.known, principal, now)
        # The tick never waits for the database, and its records are kept through an outage
        # (durable); a request handler's write fails at once so its caller hears of it.
        written = self._writer().submit(save_changes(changed, entries), durable=principal is None)
        if principal is None:
            written.add_done_callback(self._count_failure)
        for rid, record in changed.items():
            self._index.written(rid, record)
            if record.state.is_final:
                self._untrack_if_done(record.spec.requester_id)
                if self.positions is not None:
                    self.positions.forget(rid)
        return written

    def _count_failure(self, fut: Future[None]) -> None:
        if fut.exception() is not None:
            self.flush_failures += 1
            log.error("could not record a tick's audit batch (the signals keep running): %s",
                      fut.exception())  # fmt: skip

    def _writer(self) -> DbWriter:
        if self.writer is None or not self.writer.running:
            raise ServiceUnavailableError("the database writer is not running; try again later")
        return self.writer

    def _drop(self, rid: str) -> None:
        """Forget a request whose creation could not be stored (its desk record is cancelled)."""
        self._unserved.pop(rid, None)
        gone = self._index.remove(rid)
        if gone is None or self._wired is None or self._wired.priority is None:
            return
        desk_id, vehicle = gone
        if not self._wired.priority.request(desk_id).state.is_final:
            self._wired.priority.cancel(desk_id, self._now())
        self._untrack_if_done(vehicle)

    def _untrack_if_done(self, vehicle_id: str) -> None:
        desk = self._desk()
        assert self._wired is not None
        if not self._index.vehicle_busy(desk, vehicle_id):
            self._wired.twin.untrack_priority_vehicle(vehicle_id)
            self._pushed.forget(vehicle_id)

    def _publish(self) -> None:
        assert self._wired is not None and self._feed is not None
        self._view = live_state.build_view(
            self._view.version + 1,
            self._wired,
            self._feed.priority_positions(),
            [self._live(rid) for rid in self._index.ids()],
            running=not self._stop.is_set(),
            error=self.error,
            tick_ms=self._tick_ms,
            flush_failures=self.flush_failures,
            lanes=self._lane_fill(self._wired.loop.last_traffic),
        )

    def _lane_fill(self, traffic: TrafficState) -> Mapping[str, float]:
        # Recomputed only when the loop has read the detectors anew.
        if traffic is not self._fill_of:
            self._fill_of, self._fill = traffic, live_state.lane_fill(traffic)
        return self._fill
