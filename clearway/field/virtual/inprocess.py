"""The virtual controllers as a signal port in process: NTCIP semantics without the network.

:class:`CabinetSignals` reads and commands :class:`~clearway.field.virtual.nema_controller.
DualRingController` objects directly, with exactly what :class:`~clearway.field.port.FieldSignals`
would read and write over SNMP: phase status becomes link states, an approved state becomes
phase controls (:func:`~clearway.field.controls.controls_for`), written once per tick at
:meth:`end_tick`, renewed while commanded and released (all zero) when no longer commanded.
The controllers keep their own clearance and backup timer.

It lets a corridor run on NEMA controllers in simulated time, step for step with the twin and
seeded — to measure what running through field controllers costs against commanding the
twin's links directly, and to find why a run on the virtual street is slow, without SNMP's
wall-clock timing in the way.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from clearway.field.controls import (
    RELEASED,
    PhaseControls,
    controls_for,
    require_approved,
    writes_for,
)
from clearway.field.virtual.nema_controller import DualRingController
from clearway.signals.nema import NemaError
from clearway.signals.safety.commands import ApprovedCommand


class CabinetSignals:
    """Signal port over in-process virtual controllers (see the module docstring).

    Parameters
    ----------
    controllers
        Per signal id its controller (stepped by its owner, e.g. the virtual street).
    """

    applies_immediately = False

    def __init__(self, controllers: Mapping[str, DualRingController]) -> None:
        self.controllers = dict(controllers)
        self._pending: dict[str, PhaseControls] = {}
        self._sent: dict[str, PhaseControls] = {}
        self._states: dict[str, str] = {}
        #: Every write, in order: (time s, signal id, controls) — for diagnosis.
        self.writes: list[tuple[float, str, PhaseControls]] = []
        #: Approved states the phase map could not express: (signal id, reason).
        self.faults: list[tuple[str, str]] = []

    def signal_ids(self) -> Sequence[str]:
        """The controlled traffic lights, sorted."""
        return sorted(self.controllers)

    def read_signal_states(self) -> Mapping[str, str]:
        """What every controller shows now, as link states."""
        self._states = {sid: c.state_string() for sid, c in self.controllers.items()}
        return dict(self._states)

    def apply(self, command: ApprovedCommand) -> None:
        """Turn an approved state into phase controls, written at :meth:`end_tick`.

        Raises
        ------
        TypeError
            If ``command`` is not an :class:`ApprovedCommand`.
        """
        command = require_approved("CabinetSignals", command)
        ctl = self.controllers.get(command.signal_id)
        if ctl is None:
            return
        try:
            self._pending[command.signal_id] = controls_for(
                ctl.phase_map, ctl.greens, command.state, self._states.get(command.signal_id),
                ctl.phase_ons, command.then,
            )  # fmt: skip
        except NemaError as exc:
            self.faults.append((command.signal_id, str(exc)))

    def end_tick(self, now_s: float, commanded: Collection[str]) -> None:
        """Renew the commanded controllers' controls; release the ones no longer commanded."""
        writes = writes_for(self.controllers, commanded, self._pending, self._sent)
        for sid, controls in writes.items():
            self.controllers[sid].set_controls(
                now_s, hold=controls.hold, force_off=controls.force_off, omit=controls.omit,
                veh_call=controls.veh_call, ped_call=controls.ped_call,
            )  # fmt: skip
            self._sent[sid] = controls
            self.writes.append((now_s, sid, controls))
        self._pending.clear()

    def release_all(self) -> None:
        """All-zero controls to every controller still commanded."""
        for sid, sent in self._sent.items():
            if not sent.released:
                ctl = self.controllers[sid]
                ctl.set_controls(ctl.now_s, hold=(), force_off=(), omit=(), veh_call=(), ped_call=())
                self._sent[sid] = RELEASED


__all__ = ["CabinetSignals"]
