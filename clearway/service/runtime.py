"""The live runtime behind the service: one SUMO twin and its control loop, ticking in a
background thread, with the priority desk the routes hand requests to.

One :class:`ServiceRuntime` per app (libsumo runs one simulation per process). The thread
runs ``loop.tick(); twin.advance(tick_s)`` at ``speed`` times real time (``0``: as fast as
the machine goes). Every access to the desk, the loop or the twin — the tick included — holds
:attr:`ServiceRuntime.lock`, so a request never sees a half-done tick.

After each tick, in one transaction: the signal changes the guard approved and every command
it rejected (``signal.approved`` / ``signal.rejected``, per junction per change, one audit
batch), the requests' lifecycle changes (``request``) and their stored status. Requests are
persisted through :mod:`clearway.storage.requests`; they are not yet restored after a restart.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from clearway.bootstrap import PRIORITY_STRATEGIES, WiredRun, open_twin_run
from clearway.control.priority.desk import PriorityDesk
from clearway.control.priority.lifecycle import PriorityRequest
from clearway.control.priority.request import PriorityRequestSpec
from clearway.errors import (
    ConfigError,
    ServiceUnavailableError,
    StorageError,
    UnknownRequestError,
)
from clearway.network import Network, load_network
from clearway.signals.safety.guard import Verdict
from clearway.sim.scenario import Scenario
from clearway.storage import requests as request_store
from clearway.storage.audit import AuditEntry, AuditKind, append_entries
from clearway.storage.db import write_session

log = logging.getLogger(__name__)

#: Shortest pause between two ticks (s): lets request handlers take the lock at any speed.
_MIN_PAUSE_S = 0.001


@dataclass(frozen=True, slots=True)
class LiveRequest:
    """A request as the service knows it.

    Attributes
    ----------
    request_id
        The service's id (``pr-`` + 16 hex digits); the desk's own id is ``desk_id``.
    owner
        Name of the principal who made it.
    record
        The desk's record (state, route, per-junction status, history).
    recovering
        Signals of this request whose hold ended and which are still serving the phases it
        cut (their normal operation is not back yet).
    """

    request_id: str
    desk_id: str
    owner: str
    record: PriorityRequest
    recovering: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuntimeSnapshot:
    """What the runtime shows at one moment (taken under the lock, between ticks).

    Attributes
    ----------
    time_s
        Simulation time (s).
    running
        The tick thread is running (false once stopped, failed or the scenario ended).
    error
        Why the thread stopped, if it failed.
    signals
        Per signal id the state string shown now.
    requests
        Every request by service id.
    """

    time_s: float
    running: bool
    error: str | None
    signals: dict[str, str]
    requests: dict[str, LiveRequest]


class ServiceRuntime:
    """A twin, a control loop with priority (``strategy``) on ``normal`` control, ticking.

    Parameters
    ----------
    scenario
        What SUMO runs.
    strategy
        A priority strategy (``corridor`` by default; ``local``, ``none``).
    normal
        The controller between holds (``fixed-time``, ``max-pressure``, ``actuated``).
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
        self._sessions: sessionmaker[Session] | None = None
        self._owners: dict[str, str] = {}
        self._desk_ids: dict[str, str] = {}
        self._known: dict[str, tuple[str, dict[str, str]]] = {}
        self._verdicts: list[Verdict] = []
        self._shown: dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, sessions: sessionmaker[Session]) -> None:
        """Start the twin and the tick thread; requests and audit go to ``sessions``."""
        if self._thread is not None:
            raise ConfigError("the runtime is started already")
        self._sessions = sessions
        stack = ExitStack()
        try:
            wired = stack.enter_context(
                open_twin_run(
                    self.scenario,
                    strategy=self.strategy,
                    normal=self.normal,
                    backend=self.backend,
                    tick_s=self.tick_s,
                    net=self.net,
                )
            )
        except BaseException:
            stack.close()
            raise
        wired.loop.on_verdict = self._verdicts.append
        self._stack, self._wired = stack, wired
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="clearway-runtime", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop ticking (after the current tick), then close the twin. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("the runtime thread did not stop within %.1f s", timeout_s)
        with self.lock:
            if self._stack is not None:
                self._stack.close()
            self._stack = None
            self._wired = None
        self._thread = None

    @property
    def running(self) -> bool:
        """The tick thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            with self.lock:
                wired = self._wired
                if wired is None or not wired.twin.running:
                    log.info("the simulation has ended; the runtime stops ticking")
                    return
                try:
                    wired.loop.tick()
                    wired.twin.advance(self.tick_s)
                except Exception as exc:  # a failed tick must not leave half-held signals
                    log.exception("the control tick failed; the runtime stops")
                    self.error = f"{type(exc).__name__}: {exc}"
                    return
                self._flush()
            delay = 0.0
            if self.speed > 0:
                next_t += self.tick_s / self.speed
                delay = next_t - time.monotonic()
                if delay < 0:  # fell behind: do not race to catch up
                    next_t, delay = time.monotonic(), 0.0
            self._stop.wait(max(delay, _MIN_PAUSE_S))

    # -- the desk, under the lock ----------------------------------------------------------------
    def _desk(self) -> PriorityDesk:
        wired = self._wired
        if wired is None or wired.priority is None:
            raise ServiceUnavailableError("the live runtime is not running; try again later")
        return wired.priority

    def now_s(self) -> float:
        """Simulation time (s)."""
        with self.lock:
            if self._wired is None:
                raise ServiceUnavailableError("the live runtime is not running")
            return self._wired.twin.now_s()

    def create(
        self, spec: PriorityRequestSpec, owner: str, *, detail: dict[str, Any] | None = None
    ) -> LiveRequest:
        """Hand a request to the desk, store it and audit its creation, in that order, under
        the lock (the next tick serves it).

        Raises
        ------
        UnknownEdgeError, RouteError
            From the desk: nothing is stored or audited.
        """
        with self.lock:
            desk = self._desk()
            assert self._wired is not None
            now = self._wired.twin.now_s()
            record = desk.submit(spec, now)
            rid = f"pr-{secrets.token_hex(8)}"
            assert self._sessions is not None
            with write_session(self._sessions) as s:
                request_store.save_request(
                    s,
                    rid,
                    spec=spec.model_dump(mode="json"),
                    status=record.state.value,
                    principal=owner,
                    detail={**(detail or {}), **_detail(record)},
                    created_s=now,
                )
                append_entries(s, [_lifecycle(rid, owner, "created", record, now)])
            self._owners[rid] = owner
            self._desk_ids[rid] = record.request_id
            self._known[rid] = _signature(record)
            self._wired.twin.track_priority_vehicle(spec.requester_id)
            return self._live(rid)

    def cancel(self, request_id: str, by: str) -> LiveRequest:
        """Cancel a request (its junctions recover through proper clearance); stored and
        audited. Cancelling a finished request changes nothing and returns it."""
        with self.lock:
            desk = self._desk()
            live = self._live(request_id)
            if live.record.state.is_final:
                return live
            assert self._wired is not None
            now = self._wired.twin.now_s()
            record = desk.cancel(live.desk_id, now)
            self._persist({request_id: record}, now, principal=by, verdicts=[])
            return self._live(request_id)

    def get(self, request_id: str) -> LiveRequest:
        """One request; :class:`UnknownRequestError` if the service has none by that id."""
        with self.lock:
            self._desk()
            return self._live(request_id)

    def list(self) -> list[LiveRequest]:
        """Every request, oldest first."""
        with self.lock:
            self._desk()
            return [self._live(rid) for rid in self._owners]

    def snapshot(self) -> RuntimeSnapshot:
        """Time, signal states and requests at one moment between ticks."""
        with self.lock:
            wired = self._wired
            if wired is None:
                return RuntimeSnapshot(float("nan"), False, self.error, {}, {})
            return RuntimeSnapshot(
                time_s=wired.twin.now_s(),
                running=self.running,
                error=self.error,
                signals=dict(wired.twin.read_signal_states()),
                requests={rid: self._live(rid) for rid in self._owners},
            )

    def _live(self, request_id: str) -> LiveRequest:
        desk_id = self._desk_ids.get(request_id)
        if desk_id is None:
            raise UnknownRequestError(request_id, self._desk_ids, where="this service")
        desk = self._desk()
        recovering = tuple(
            r.signal_id
            for r in desk.recoveries
            if r.recovered_s is None and desk_id in r.request_ids
        )
        return LiveRequest(
            request_id, desk_id, self._owners[request_id], desk.request(desk_id), recovering
        )

    # -- after a tick --------------------------------------------------------------------------
    def _flush(self) -> None:
        """Audit this tick's signal changes and the requests' changes in one batch."""
        desk = self._desk()
        assert self._wired is not None
        now = self._wired.twin.now_s()
        changed = {}
        for rid, desk_id in self._desk_ids.items():
            record = desk.request(desk_id)
            if _signature(record) != self._known[rid]:
                changed[rid] = record
        verdicts, self._verdicts[:] = list(self._verdicts), []
        if changed or verdicts:
            self._persist(changed, now, principal=None, verdicts=verdicts)

    def _persist(
        self,
        changed: dict[str, PriorityRequest],
        now: float,
        *,
        principal: str | None,
        verdicts: list[Verdict],
    ) -> None:
        entries = self._signal_entries(verdicts)
        for rid, record in changed.items():
            before_state = self._known[rid][0]
            if record.state.value != before_state:
                event = record.state.value if record.state.is_final else "updated"
                entries.append(_lifecycle(rid, principal, event, record, now))
        assert self._sessions is not None
        try:
            with write_session(self._sessions) as s:
                for rid, record in changed.items():
                    # The status update locks the row first; the detail is merged after it,
                    # so a concurrent position update's keys are kept.
                    request_store.update_request(s, rid, status=record.state.value)
                    old = request_store.get_request(s, rid).detail
                    request_store.update_request(s, rid, detail={**old, **_detail(record)})
                append_entries(s, entries)
        except (StorageError, SQLAlchemyError):
            if principal is not None:  # a request handler: let the caller see it
                raise
            self.flush_failures += 1
            log.exception("could not record a tick's audit batch; the signals keep running")
        for rid, record in changed.items():
            self._known[rid] = _signature(record)
            if record.state.is_final:
                self._untrack_if_done(record.spec.requester_id)

    def _signal_entries(self, verdicts: list[Verdict]) -> list[AuditEntry]:
        entries = []
        for v in verdicts:
            cmd = v.command
            if v.ok:
                if self._shown.get(cmd.signal_id) == cmd.state:
                    continue  # not a change
                self._shown[cmd.signal_id] = cmd.state
                kind, extra = AuditKind.SIGNAL_APPROVED, {}
            else:
                kind, extra = AuditKind.SIGNAL_REJECTED, {"reasons": list(v.reasons)}
            entries.append(
                AuditEntry(
                    kind,
                    junction_id=cmd.signal_id,
                    payload={
                        "state": cmd.state,
                        "time_s": cmd.time_s,
                        "source": cmd.source,
                        **extra,
                    },
                )
            )
        return entries

    def _untrack_if_done(self, vehicle_id: str) -> None:
        desk = self._desk()
        assert self._wired is not None
        if not any(
            not desk.request(d).state.is_final and desk.request(d).spec.requester_id == vehicle_id
            for d in self._desk_ids.values()
        ):
            self._wired.twin.untrack_priority_vehicle(vehicle_id)


def _signature(record: PriorityRequest) -> tuple[str, dict[str, str]]:
    return record.state.value, {k: v.value for k, v in record.junctions.items()}


def _detail(record: PriorityRequest) -> dict[str, Any]:
    return {
        "desk_id": record.request_id,
        "route": list(record.route),
        "junctions": {k: v.value for k, v in record.junctions.items()},
    }


def _lifecycle(
    rid: str, principal: str | None, event: str, record: PriorityRequest, now: float
) -> AuditEntry:
    reason = record.history[-1][2] if record.history else ""
    return AuditEntry(
        AuditKind.REQUEST,
        principal=principal,
        request_id=rid,
        payload={
            "event": event,
            "state": record.state.value,
            "reason": reason,
            "time_s": now,
            "requester_id": record.spec.requester_id,
            "incident_id": record.spec.incident_id,
        },
    )
