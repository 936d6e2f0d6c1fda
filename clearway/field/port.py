"""Field signal controllers as clearway's ports: NTCIP 1202 over SNMP.

:class:`FieldSignals` is a :class:`~clearway.ports.SignalPort` and a
:class:`~clearway.ports.StateSource` for a set of NEMA controllers. Each tick it reads every
controller's phase status groups and detector volume/occupancy in one GET per controller
(all controllers at once), and turns the phases shown into link states through the
controller's phase map, so everything above the port sees the same link states as from
the SUMO twin. Approved commands become phase controls (:mod:`clearway.field.controls`);
they are written once per tick in :meth:`end_tick` — a lease: the signals commanded this
tick get their controls again, a signal no longer commanded gets all-zero controls (its own
program again), and the controller's ``unitBackupTime`` (set on connect) drops every control
by itself when clearway falls silent.

Faults never raise out of a tick: an unreachable controller, refused credentials, a refused
SET or a reply that does not match what was set mark the junction *degraded* with the
reason (:attr:`FieldSignals.degraded`; shown in ``/health`` and audited by the service). A
degraded junction keeps its last known state, is commanded no more (so the controller's
backup time releases whatever it held), and is retried every tick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from clearway.field.controls import (
    CONTROL_OBJECTS,
    RELEASED,
    PhaseControls,
    controls_for,
    phase_groups,
    require_approved,
    writes_for,
)
from clearway.field.ntcip import groups_to_phases, masks_for_groups, obj
from clearway.field.snmp_client import FieldError, SnmpRunner, SnmpTarget
from clearway.signals.nema import NemaError, PhaseMap, state_of
from clearway.signals.safety.commands import ApprovedCommand
from clearway.state.traffic import TrafficState

log = logging.getLogger(__name__)

_STATUS = (
    ("greens", "phaseStatusGroupGreens"),
    ("yellows", "phaseStatusGroupYellows"),
    ("walks", "phaseStatusGroupWalks"),
    ("ped_clears", "phaseStatusGroupPedClears"),
    ("ons", "phaseStatusGroupPhaseOns"),
    ("nexts", "phaseStatusGroupPhaseNexts"),
)
#: NTCIP detectorOccupancy counts in 0.5 % steps (0..200); above is a detector fault code.
_OCCUPANCY_MAX = 200


@dataclass(frozen=True)
class FieldController:
    """One controller as the port drives it.

    Attributes
    ----------
    signal_id
        The network's traffic-light id it runs.
    phase_map
        Its NEMA phases over the intersection model's links.
    target
        Where it listens and with which credentials.
    backup_time_s
        Its ``unitBackupTime``: without a SET of clearway's for this long it drops every
        control and runs its own program (s).
    detector_lanes
        Lane id of its vehicle detector 1, 2, ... (stop-bar detectors, one per lane).
    """

    signal_id: str
    phase_map: PhaseMap
    target: SnmpTarget
    backup_time_s: float
    detector_lanes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PhaseStatus:
    """What a controller reported at one read (phase numbers)."""

    greens: frozenset[int]
    yellows: frozenset[int]
    walks: frozenset[int]
    ped_clears: frozenset[int]
    ons: frozenset[int]
    nexts: frozenset[int]


class FieldSignals:
    """Signal port and detector source over NTCIP 1202 for many controllers.

    Parameters
    ----------
    controllers
        The controllers, one per traffic light.
    runner
        The SNMP event loop thread (owned by the caller).
    now_s
        The traffic clock (s): UTC unix seconds on field equipment.
    io_timeout_s
        Longest a tick waits for all controllers together (s).
    """

    applies_immediately = False

    def __init__(
        self,
        controllers: Sequence[FieldController],
        runner: SnmpRunner,
        *,
        now_s=time.time,  # noqa: ANN001 - a clock callable
        io_timeout_s: float = 5.0,
    ) -> None:
        self.controllers = {c.signal_id: c for c in controllers}
        self.runner = runner
        self._now_s = now_s
        self.io_timeout_s = io_timeout_s
        # One engine and socket per set of credentials, shared by the controllers using it.
        self._clients = {sid: runner.client(c.target) for sid, c in self.controllers.items()}
        self._groups = {sid: phase_groups(c.phase_map) for sid, c in self.controllers.items()}
        self._states = {sid: "r" * c.phase_map.link_count for sid, c in self.controllers.items()}
        self._status: dict[str, PhaseStatus] = {}
        self._pending: dict[str, PhaseControls] = {}
        self._sent: dict[str, PhaseControls] = {}
        self._configured: set[str] = set()
        self._detectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        #: Per junction, why it is degraded now (absent when healthy).
        self.degraded: dict[str, str] = {}
        #: Faults seen, in order: (time s, signal id, reason) — for the audit log.
        self.faults: list[tuple[float, str, str]] = []
        #: Round-trip times of the last tick's exchanges per controller (ms).
        self.last_rtt_ms: dict[str, float] = {}

    # -- SignalPort --------------------------------------------------------------------------
    def signal_ids(self) -> Sequence[str]:
        """The traffic lights of the configured controllers, sorted."""
        return sorted(self.controllers)

    def read_signal_states(self) -> Mapping[str, str]:
        """Every controller's phases shown, as link states (last known for a degraded one)."""
        sids = self.signal_ids()
        results = self.runner.gather(
            [self._read(sid) for sid in sids], return_exceptions=True, timeout_s=self.io_timeout_s
        )
        for sid, res in zip(sids, results, strict=True):
            if isinstance(res, BaseException):
                self._fault(sid, res)
        return dict(self._states)

    def apply(self, command: ApprovedCommand) -> None:
        """Turn an approved state into phase controls, written at :meth:`end_tick`.

        Raises
        ------
        TypeError
            If ``command`` is not an :class:`ApprovedCommand`.
        """
        command = require_approved("FieldSignals", command)
        sid = command.signal_id
        ctl = self.controllers.get(sid)
        if ctl is None or sid in self.degraded:
            return  # unknown or unreachable: nothing is sent, its backup time releases it
        status = self._status.get(sid)
        shown = status.greens if status is not None else frozenset()
        on = status.ons if status is not None else frozenset()
        try:
            self._pending[sid] = controls_for(
                ctl.phase_map, shown, command.state, self._states.get(sid), on, command.then
            )
        except NemaError as exc:
            self._fault(sid, exc)

    def end_tick(self, now_s: float, commanded: Collection[str]) -> None:
        """Write this tick's controls: renew the commanded signals' leases, release the
        signals held before and not commanded now (all-zero controls)."""
        live = [sid for sid in self.signal_ids() if sid not in self.degraded]
        writes = writes_for(live, commanded, self._pending, self._sent)
        self._pending.clear()
        if not writes:
            return
        sids = list(writes)
        results = self.runner.gather(
            [self._write(sid, writes[sid]) for sid in sids],
            return_exceptions=True,
            timeout_s=self.io_timeout_s,
        )
        for sid, res in zip(sids, results, strict=True):
            if isinstance(res, BaseException):
                self._fault(sid, res)
            else:
                self._sent[sid] = writes[sid]

    # -- StateSource -------------------------------------------------------------------------
    def read_traffic_state(self, fields: Collection[str] | None = None) -> TrafficState:
        """Per-lane detector aggregates of the last read: volume (vehicles per period) as
        ``vehicle_count``, occupancy (%); queues and speeds are not measured (``nan``)."""
        lanes: list[str] = []
        counts: list[float] = []
        occ: list[float] = []
        for sid in self.signal_ids():
            ctl = self.controllers[sid]
            vol_occ = self._detectors.get(sid)
            if vol_occ is None:
                continue
            lanes.extend(ctl.detector_lanes)
            counts.extend(vol_occ[0])
            occ.extend(vol_occ[1])
        n = len(lanes)
        nan = np.full(n, np.nan)
        return TrafficState(
            self._now_s(), tuple(lanes), np.array(counts, float), nan, nan, np.array(occ, float), nan
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def release_all(self) -> None:
        """All-zero controls to every controller (a graceful stop): each is back on its own
        program at once instead of after its backup time."""
        sids = [s for s in self.signal_ids() if s in self._sent and not self._sent[s].released]
        results = self.runner.gather(
            [self._write(s, RELEASED) for s in sids], return_exceptions=True,
            timeout_s=self.io_timeout_s,
        )  # fmt: skip
        for sid, res in zip(sids, results, strict=True):
            if isinstance(res, BaseException):
                log.warning("could not release %s on stop: %s", sid, res)

    def close(self) -> None:
        """Release every controller and close the SNMP sessions."""
        try:
            self.release_all()
        finally:
            self.runner.gather(
                [c.aclose() for c in self._clients.values()], return_exceptions=True,
                timeout_s=self.io_timeout_s,
            )  # fmt: skip

    # -- internals ---------------------------------------------------------------------------
    async def _read(self, sid: str) -> None:
        ctl = self.controllers[sid]
        client = self._clients[sid]
        started = time.perf_counter()
        if sid not in self._configured:
            # The lease: without a SET of ours for this long the controller drops every
            # control by itself (a dead clearway leaves nothing held).
            await self._set_checked(sid, [(obj("unitBackupTime").instance(), round(ctl.backup_time_s))])
            self._configured.add(sid)
        n_groups = self._groups[sid]
        oids = [obj(name).instance(g) for _, name in _STATUS for g in range(1, n_groups + 1)]
        n_det = len(ctl.detector_lanes)
        det = [obj(n).instance(k) for n in ("detectorVolume", "detectorOccupancy")
               for k in range(1, n_det + 1)]  # fmt: skip
        values = await client.get(oids + det)
        groups: dict[str, frozenset[int]] = {}
        for key, name in _STATUS:
            masks = {g: int(values[obj(name).instance(g)]) for g in range(1, n_groups + 1)}
            groups[key] = groups_to_phases(masks)
        status = PhaseStatus(**groups)
        unknown = (status.greens | status.yellows) - ctl.phase_map.numbers
        if unknown:
            raise FieldError(
                f"controller {sid} ({ctl.target.address}) shows phases {sorted(unknown)} green "
                "or yellow that its phase map does not have; fix the junction config"
            )
        self._states[sid] = state_of(
            ctl.phase_map, status.greens, status.yellows, status.walks, status.ped_clears,
            ons=status.ons, nexts=status.nexts,
        )  # fmt: skip
        self._status[sid] = status
        if n_det:
            vol = np.array([float(values[o]) for o in det[:n_det]])
            raw = np.array([float(values[o]) for o in det[n_det:]])
            occ = np.where(raw <= _OCCUPANCY_MAX, raw / 2.0, np.nan)
            self._detectors[sid] = (vol, occ)
        self.last_rtt_ms[sid] = (time.perf_counter() - started) * 1e3
        if sid in self.degraded:
            log.info("controller %s answers again", sid)
            del self.degraded[sid]

    async def _write(self, sid: str, controls: PhaseControls) -> None:
        n_groups = self._groups[sid]
        items = []
        for attr, name in CONTROL_OBJECTS:
            masks = masks_for_groups(getattr(controls, attr), n_groups)
            items += [(obj(name).instance(g), masks[g]) for g in range(1, n_groups + 1)]
        await self._set_checked(sid, items)

    async def _set_checked(self, sid: str, items: list[tuple[tuple[int, ...], int]]) -> None:
        ctl = self.controllers[sid]
        reply = await self._clients[sid].set(items)
        wrong = [(o, v, reply.get(o)) for o, v in items if reply.get(o) != v]
        if wrong:
            o, v, got = wrong[0]
            raise FieldError(
                f"controller {sid} ({ctl.target.address}) answered a SET of "
                f"{'.'.join(map(str, o))} = {v} with {got!r}: the controller did not take what "
                "was set; check its mode and configuration"
            )

    def _fault(self, sid: str, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if self.degraded.get(sid) != reason:
            log.warning("controller %s degraded: %s", sid, reason)
            self.faults.append((self._now_s(), sid, reason))
        self.degraded[sid] = reason
        # Whatever it held runs out on its own backup time; it is written to again only
        # once it answers a read.
        self._pending.pop(sid, None)
        self._sent.pop(sid, None)
        self._configured.discard(sid)
