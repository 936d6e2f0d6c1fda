"""A twin run whose signals are driven by virtual NEMA controllers, in process.

The ``nema`` normal control of ``clearway evaluate``: every signal whose default program a
dual-ring controller can run gets one (:class:`~clearway.field.virtual.twin_cabinets.
TwinCabinets`), stepped with the twin every simulation step; clearway reaches them only as it
reaches field controllers — phase status read, phase controls written once per tick as
leases (:class:`~clearway.field.virtual.inprocess.CabinetSignals`), priority by
:class:`~clearway.control.priority.field_preemption.FieldPreemption` — and between holds the
controllers run their own actuated program. No SNMP: the run is seeded and in simulated
time, so it measures what running through field controllers costs the corridor, side by side
with commanding the twin's links directly, on the same seeds.

Signals whose program no dual-ring controller can run keep SUMO's own program (the caller
leaves them out of ``phase_maps``, :func:`~clearway.field.virtual.twin_cabinets.
derivable_phase_maps` says why): not commanded, not watched, as SUMO's programs are not
clearway's states.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clearway.control.base import Controller
from clearway.control.own_program import OwnProgram
from clearway.control.priority.field_preemption import FieldPreemption
from clearway.control.priority.policies import PriorityPolicy
from clearway.field.virtual.inprocess import CabinetSignals
from clearway.field.virtual.twin_cabinets import TwinCabinets
from clearway.network.model import Network
from clearway.ports import PriorityVehicleFeed
from clearway.signals.model import Intersection
from clearway.signals.nema import PhaseMap
from clearway.sim.twin import SumoTwin

#: Name of this normal control (``--normal nema``).
NEMA_NORMAL = "nema"
#: Its counterpart on the direct twin (``--normal nema-phases``): clearway's fixed-time
#: control commanding the links of the same signals, its holds limited to the states their
#: phase maps can show (:class:`~clearway.control.priority.field_preemption.
#: PhaseLimitedPreemption`); the difference to ``nema`` is what the controllers themselves cost.
NEMA_PHASES_NORMAL = "nema-phases"
#: Backup time of the in-process controllers (s): a tick of 1 s renews it many times over.
BACKUP_TIME_S = 10.0


@dataclass
class NemaWiring:
    """The pieces of a run on virtual NEMA controllers.

    Attributes
    ----------
    signals
        The port to the controllers (the loop's signal port).
    controller
        The controllers' own programs between holds, with priority by the policy.
    cabinets
        The controllers on the twin.
    """

    signals: CabinetSignals
    controller: Controller
    cabinets: TwinCabinets


def wire_nema(
    twin: SumoTwin,
    net: Network,
    models: Mapping[str, Intersection],
    phase_maps: Mapping[str, PhaseMap],
    feed: PriorityVehicleFeed,
    policy: PriorityPolicy,
) -> NemaWiring:
    """A controller on every signal of ``phase_maps``, stepped after each simulation step,
    and clearway's side of them (see the module docstring).

    Parameters
    ----------
    twin
        A started twin (its step listeners gain the controllers' step).
    net, models
        The network and the intersection models of the signals in ``phase_maps``.
    phase_maps
        Per signal to drive, its controller's phase map.
    feed
        Where priority vehicles are heard.
    policy
        Priority policy (``NoPriority`` for the controllers' own programs alone).
    """
    cabinets = TwinCabinets(twin, net, models, phase_maps, backup_time_s=BACKUP_TIME_S)
    cabinets.step()  # show the controllers' own start before the first decision
    twin.add_step_listener(lambda _t, _states: cabinets.step())
    programs = {sid: net.traffic_lights[sid].default_program for sid in phase_maps}
    controller = FieldPreemption(
        OwnProgram(NEMA_NORMAL), net, models, programs, feed, policy, phase_maps=phase_maps
    )
    return NemaWiring(CabinetSignals(cabinets.controllers), controller, cabinets)


__all__ = ["BACKUP_TIME_S", "NEMA_NORMAL", "NEMA_PHASES_NORMAL", "NemaWiring", "wire_nema"]
