"""The NTCIP 1202 view of a virtual controller: an :class:`~clearway.field.snmp_agent.ObjectStore`.

:class:`ControllerMib` serves one :class:`~clearway.field.virtual.nema_controller.
DualRingController` (one agent per controller, as in the field):

- phase table (walk, pedestrian clear, min green, passage, max 1, yellow, red clear, options,
  ring, concurrency) from the controller's timings — read-only: a central system does not
  retime a cabinet over this interface, and the virtual one refuses with notWritable;
- phase status groups from the controller's state; phase control groups read-write into its
  controls (every accepted SET restarts its backup timer);
- unitBackupTime read-write (seconds, 1..65535: 0 would mean "never fall back", which a
  safe controller refuses), unitControlStatus (systemControl, or backupMode when its
  controls have lapsed), unitFlashStatus (notFlash);
- detectors: call phase per detector, and volume/occupancy reports from counts the owner
  gives with :meth:`ControllerMib.report_detectors`;
- maxRings and sequenceData (sequence 1: each ring's phase order).

Instances exist for every phase 1..maxPhases (maxPhases = 8 x maxPhaseGroups, as the MIB's
group structure implies); a number the controller does not use has phaseOptions 0 (not
enabled) and zero timings.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext

from clearway.errors import ConfigError
from clearway.field.ntcip import (
    PHASES_PER_GROUP,
    NtcipError,
    NtcipObject,
    SnmpType,
    groups_to_phases,
    obj,
    phases_to_groups,
    phases_to_octets,
)
from clearway.field.snmp_agent import SetErrorStatus, StoreRefused
from clearway.field.virtual.nema_controller import DualRingController

Oid = tuple[int, ...]
Value = int | bytes

#: unitControlStatus / unitFlashStatus values (ntcip.py notes, from the MIB's enumerations).
CONTROL_SYSTEM, CONTROL_BACKUP, FLASH_NONE = 2, 4, 2
#: phaseOptions bit 0: the phase is enabled.
PHASE_ENABLED = 1

# phase status group column → controller attribute
_STATUS = {
    "phaseStatusGroupReds": "reds",
    "phaseStatusGroupYellows": "yellows",
    "phaseStatusGroupGreens": "greens",
    "phaseStatusGroupDontWalks": "dont_walks",
    "phaseStatusGroupPedClears": "ped_clears",
    "phaseStatusGroupWalks": "walks",
    "phaseStatusGroupVehCalls": "veh_calls",
    "phaseStatusGroupPedCalls": "ped_calls",
    "phaseStatusGroupPhaseOns": "phase_ons",
    "phaseStatusGroupPhaseNexts": "phase_nexts",
}
# phase control group column → DualRingController.set_controls keyword
_CONTROL = {
    "phaseControlGroupPhaseOmit": "omit",
    "phaseControlGroupHold": "hold",
    "phaseControlGroupForceOff": "force_off",
    "phaseControlGroupVehCall": "veh_call",
    "phaseControlGroupPedCall": "ped_call",
}


def _whole_s(x: float) -> int:
    return math.ceil(x - 1e-9)  # never report less time than the controller gives


def _tenths(x: float) -> int:
    return math.ceil(x * 10 - 1e-9)


class ControllerMib:
    """NTCIP 1202 objects of one :class:`DualRingController` (see the module docstring).

    Parameters
    ----------
    controller
        The controller served; this store reads its state and sets its controls, the owner
        steps it.
    detector_phases
        Vehicle detector number (1..255) → the phase it calls.
    detector_count
        Or just how many detectors there are (numbered 1..n, call phase 0 = none given).
    lock
        Held while a PDU is served (the agent takes it, see
        :class:`~clearway.field.snmp_agent.ObjectStore`) and by whoever steps the controller,
        so one GET sees one state of the controller.
    clock
        Time (s, the controller's clock) at which SETs take effect; default: the
        controller's ``now_s`` (its last step).
    """

    def __init__(
        self,
        controller: DualRingController,
        detector_phases: Mapping[int, int] | None = None,
        *,
        detector_count: int = 0,
        lock: AbstractContextManager | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.controller = controller
        pm = controller.phase_map
        if detector_phases and detector_count:
            raise ConfigError("give detector_phases or detector_count, not both")
        if not 0 <= detector_count <= 255:
            raise ConfigError(f"signal {pm.signal_id!r}: detector_count must be 0..255")
        self.detector_phases = dict(detector_phases or dict.fromkeys(range(1, detector_count + 1), 0))
        self.lock = lock if lock is not None else nullcontext()
        bad = {d: p for d, p in self.detector_phases.items()
               if not 1 <= d <= 255 or p not in pm.numbers | {0}}  # fmt: skip
        if bad:
            raise ConfigError(
                f"signal {pm.signal_id!r}: detectors {bad} need numbers 1..255 and a phase of "
                f"the controller ({sorted(pm.numbers)})"
            )
        self.clock = clock or (lambda: controller.now_s)
        self.n_groups = max(1, math.ceil(max(pm.numbers) / PHASES_PER_GROUP))
        self.max_phases = self.n_groups * PHASES_PER_GROUP
        self.volumes: dict[int, int] = {}
        self.occupancy: dict[int, int] = {}
        self.sequence = 0
        self.period_s = 60
        self._read: dict[Oid, tuple[NtcipObject, Callable[[], Value]]] = {}
        self._write: dict[Oid, Callable[[Value], None]] = {}
        self._build()
        self._sorted = sorted(self._read)

    # -- what exists -------------------------------------------------------------------------
    def _add(self, name: str, index: tuple[int, ...], read: Callable[[], Value],
             write: Callable[[Value], None] | None = None) -> None:  # fmt: skip
        o = obj(name)
        oid = o.instance(*index)
        self._read[oid] = (o, read)
        if write is not None:
            self._write[oid] = write

    def _build(self) -> None:
        c = self.controller
        pm = c.phase_map
        const = lambda v: lambda: v  # noqa: E731 -- a value frozen at build time
        self._add("maxPhases", (), const(self.max_phases))
        self._add("maxPhaseGroups", (), const(self.n_groups))
        for n in range(1, self.max_phases + 1):
            self._add_phase_row(n)
        for g in range(1, self.n_groups + 1):
            for name, attr in _STATUS.items():
                self._add(name, (g,), self._status_reader(attr, g))
            for name, key in _CONTROL.items():
                self._add(name, (g,), self._status_reader_controls(key, g),
                          self._control_writer(key, g))  # fmt: skip
        self._add("maxVehicleDetectors", (), const(max(self.detector_phases, default=0)))
        for d, p in sorted(self.detector_phases.items()):
            self._add("vehicleDetectorCallPhase", (d,), const(p))
            self._add("detectorVolume", (d,), lambda d=d: self.volumes.get(d, 0))
            self._add("detectorOccupancy", (d,), lambda d=d: self.occupancy.get(d, 0))
        self._add("volumeOccupancySequence", (), lambda: self.sequence)
        self._add("volumeOccupancyPeriod", (), lambda: self.period_s, self._set_period)
        self._add("unitBackupTime", (), lambda: round(c.backup_time_s), self._set_backup)
        self._add("unitControlStatus", (),
                  lambda: CONTROL_BACKUP if c.in_backup else CONTROL_SYSTEM)  # fmt: skip
        self._add("unitFlashStatus", (), const(FLASH_NONE))
        self._add("maxRings", (), const(len(pm.rings)))
        for r, seq in enumerate(pm.rings, start=1):
            self._add("sequenceData", (1, r), const(phases_to_octets(list(seq))))

    def _add_phase_row(self, n: int) -> None:
        pm = self.controller.phase_map
        t = self.controller.timings.get(n) if n in pm.numbers else None
        if t is None:
            values = dict.fromkeys(
                ("phaseWalk", "phasePedestrianClear", "phaseMinimumGreen", "phasePassage",
                 "phaseMaximum1", "phaseYellowChange", "phaseRedClear", "phaseOptions",
                 "phaseRing"), 0)  # fmt: skip
            concurrency = b""
        else:
            values = {
                "phaseWalk": _whole_s(t.walk_s),
                "phasePedestrianClear": _whole_s(t.ped_clear_s),
                "phaseMinimumGreen": _whole_s(t.min_green_s),
                "phasePassage": _tenths(t.passage_s),
                "phaseMaximum1": _whole_s(t.max_green_s),
                "phaseYellowChange": _tenths(t.yellow_s),
                "phaseRedClear": _tenths(t.red_clear_s),
                "phaseOptions": PHASE_ENABLED,
                "phaseRing": pm.phase(n).ring,
            }
            concurrency = phases_to_octets(sorted(q for q in pm.numbers if q != n and pm.concurrent(n, q)))
        for name, v in values.items():
            try:
                obj(name).check_value(v)
            except NtcipError as exc:
                raise ConfigError(f"signal {pm.signal_id!r} phase {n}: {exc}") from None
            self._add(name, (n,), lambda v=v: v)
        self._add("phaseConcurrency", (n,), lambda c=concurrency: c)

    def _status_reader(self, attr: str, g: int) -> Callable[[], int]:
        return lambda: phases_to_groups(getattr(self.controller, attr)).get(g, 0)

    def _status_reader_controls(self, key: str, g: int) -> Callable[[], int]:
        return lambda: phases_to_groups(getattr(self.controller.controls, key)).get(g, 0)

    def _control_writer(self, key: str, g: int) -> Callable[[Value], None]:
        def write(mask: Value) -> None:
            c = self.controller
            lo, hi = (g - 1) * PHASES_PER_GROUP + 1, g * PHASES_PER_GROUP
            others = {p for p in getattr(c.controls, key) if not lo <= p <= hi}
            c.set_controls(self.clock(), **{key: others | groups_to_phases({g: mask})})

        return write

    def _set_backup(self, value: Value) -> None:
        self.controller.backup_time_s = float(value)

    def _set_period(self, value: Value) -> None:
        self.period_s = int(value)

    # -- detector data -------------------------------------------------------------------------
    def report_detectors(self, volumes: Mapping[int, int], occupancy_pct: Mapping[int, float]) -> None:
        """Publish one volume/occupancy period: vehicles counted and % of time occupied per
        detector; volumeOccupancySequence advances (mod 256) so a poller sees new data."""
        for d in (*volumes, *occupancy_pct):
            if d not in self.detector_phases:
                raise ConfigError(f"no vehicle detector {d}; known: {sorted(self.detector_phases)}")
        for d, count in volumes.items():
            if count < 0:
                raise ConfigError(f"detector {d}: volume must be >= 0, got {count}")
        for d, pct in occupancy_pct.items():
            if not 0.0 <= pct <= 100.0:
                raise ConfigError(f"detector {d}: occupancy must be 0..100 %, got {pct}")
        self.volumes = {d: min(int(v), 255) for d, v in volumes.items()}  # saturates at 255
        self.occupancy = {d: round(pct * 2) for d, pct in occupancy_pct.items()}
        self.sequence = (self.sequence + 1) % 256

    def set_detectors(self, volumes: Sequence[float], occupancy_pct: Sequence[float]) -> None:
        """:meth:`report_detectors` for detectors 1..n in order (vehicles, % occupied)."""
        if len(volumes) != len(occupancy_pct):
            raise ConfigError(f"{len(volumes)} volumes but {len(occupancy_pct)} occupancies")
        self.report_detectors(
            {d: round(v) for d, v in enumerate(volumes, start=1)},
            dict(enumerate(occupancy_pct, start=1)),
        )

    # -- ObjectStore -----------------------------------------------------------------------------
    def get(self, oid: Oid) -> tuple[SnmpType, Value] | None:
        found = self._read.get(oid)
        if found is None:
            return None
        o, read = found
        return o.snmp_type, read()

    def next_oid(self, oid: Oid) -> Oid | None:
        i = bisect.bisect_right(self._sorted, oid)
        return self._sorted[i] if i < len(self._sorted) else None

    def check_set(self, oid: Oid, value: Value) -> None:
        found = self._read.get(oid)
        if found is None:
            raise StoreRefused(SetErrorStatus.NO_CREATION, oid, "no such instance")
        o, _ = found
        if oid not in self._write:
            raise StoreRefused(SetErrorStatus.NOT_WRITABLE, oid, f"{o.name} is read-only here")
        try:
            o.check_value(value)
        except NtcipError as exc:
            raise StoreRefused(SetErrorStatus.WRONG_VALUE, oid, str(exc)) from None
        if o.name == "unitBackupTime" and value == 0:
            raise StoreRefused(SetErrorStatus.WRONG_VALUE, oid, "backup time 0 would never fall back")
        if o.name in _CONTROL:
            g = oid[-1]
            unknown = groups_to_phases({g: value}) - self.controller.phase_map.numbers
            if unknown:
                raise StoreRefused(SetErrorStatus.WRONG_VALUE, oid,
                                   f"bits for phases {sorted(unknown)} the controller lacks")  # fmt: skip

    def set(self, oid: Oid, value: Value) -> None:
        self._write[oid](value)
