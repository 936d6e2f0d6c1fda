"""What an approved signal state asks of a NEMA controller, in NTCIP phase controls.

clearway never writes link states to a field controller. A state the guard approved is a
set of green (and yellow) phases of the controller's :class:`~clearway.signals.nema.PhaseMap`;
the controller is steered there with the standard phase control groups of NTCIP 1202 —
hold the phases that must stay green, force off the green ones that must end, call the ones
that must come up and omit every other phase — and it runs every change interval
itself, with its own timings (which `clearway field check` requires to be no shorter than
the model's). All-zero controls release it to its own program.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from clearway.field.ntcip import PHASES_PER_GROUP
from clearway.signals.model import GREEN_CHARS
from clearway.signals.nema import NemaError, PhaseMap, phases_of
from clearway.signals.safety.commands import ApprovedCommand

#: The NTCIP 1202 phase control group columns, in the order they are written.
CONTROL_OBJECTS = (
    ("hold", "phaseControlGroupHold"),
    ("force_off", "phaseControlGroupForceOff"),
    ("omit", "phaseControlGroupPhaseOmit"),
    ("veh_call", "phaseControlGroupVehCall"),
    ("ped_call", "phaseControlGroupPedCall"),
)


@dataclass(frozen=True, slots=True)
class PhaseControls:
    """Phase numbers per NTCIP phase control (each an 8-bit mask per phase group on the wire).

    Attributes
    ----------
    hold, force_off, omit, veh_call, ped_call
        Phases held green, forced off, omitted from service, and given a vehicle or
        pedestrian call. (Walks are not omitted: a walk starts only on a call, and one in a
        phase the vehicle's movement shares runs beside it by the phase map's own check.)
    """

    hold: frozenset[int] = frozenset()
    force_off: frozenset[int] = frozenset()
    omit: frozenset[int] = frozenset()
    veh_call: frozenset[int] = frozenset()
    ped_call: frozenset[int] = frozenset()

    @property
    def released(self) -> bool:
        """True when nothing is asked: the controller runs its own program."""
        return not (
            self.hold or self.force_off or self.omit or self.veh_call
            or self.ped_call
        )  # fmt: skip


RELEASED = PhaseControls()


def phase_groups(pm: PhaseMap) -> int:
    """Phase groups (of 8 phases) the controller's phases span (at least 1)."""
    top = max((p.number for p in pm.phases), default=1)
    return max(1, -(-top // PHASES_PER_GROUP))


def controls_for(
    pm: PhaseMap,
    shown_greens: frozenset[int],
    approved: str,
    shown: str | None = None,
    on: frozenset[int] = frozenset(),
    then: str | None = None,
) -> PhaseControls:
    """The phase controls that steer a controller from what it shows to an approved state.

    Parameters
    ----------
    pm
        The controller's phase map.
    shown_greens
        Phases it shows green now (from its phase status groups).
    approved
        The state the guard approved (SUMO characters, one per link).
    shown
        The state it shows now, if known: approving it unchanged holds the phases shown
        (also mid-transition, where an overlap's aspect depends on the phase next).
    on
        Phases active in their ring now (NTCIP phase ons): never omitted, so a ring resting
        in one can still reach the barrier the target lies behind.
    then
        The target the approved step leads to, if the command carries one: the controller is
        steered straight there (see :func:`toward`).

    Raises
    ------
    NemaError
        If no set of the controller's phases shows ``approved`` (the corridor only proposes
        states its phases can show; anything else is refused, never approximated).
    """
    if then is not None:
        return toward(pm, shown_greens, approved, then, on)
    greens = shown_greens if approved == shown else phases_of(pm, approved)[0]
    walks = _walks(pm, greens, approved)
    every = pm.numbers
    if greens <= shown_greens:
        # A clearance step (phases end, none comes up yet): a force-off takes effect only
        # where another phase is called, and omitting the rest would leave the controller
        # nowhere to go, so every other phase is called and none omitted; the step that
        # turns the target green then calls it and omits the others.
        return PhaseControls(
            hold=greens, force_off=shown_greens - greens,
            veh_call=(every - shown_greens) if shown_greens - greens else frozenset(),
            ped_call=walks,
        )  # fmt: skip
    return PhaseControls(
        hold=greens & shown_greens,
        force_off=shown_greens - greens,
        omit=every - greens - shown_greens - on,
        veh_call=greens - shown_greens,
        ped_call=walks,
    )


def _walks(pm: PhaseMap, greens: frozenset[int], state: str) -> frozenset[int]:
    """Phases of ``greens`` whose crosswalks ``state`` shows walk (they get a ped call)."""
    return frozenset(
        p.number for p in pm.phases
        if p.number in greens and p.ped_links and all(state[i] in GREEN_CHARS for i in p.ped_links)
    )  # fmt: skip


def toward(
    pm: PhaseMap, shown_greens: frozenset[int], approved: str, then: str, on: frozenset[int]
) -> PhaseControls:
    """Controls that take a controller straight to the target ``then`` through its own
    change intervals: the target's phases called (or held), every other phase omitted.

    A phase green now and not in the target is forced off once the approved step ends its
    links (until then, as for a minimum green the guard still counts, it is held); a phase
    with no vehicle links of its own (a walk, or a parent only of overlaps) has nothing the
    step could show ending, so it is forced off at once — the controller's own minimum green
    and clearance still apply, and an overlap green in the target stays green through the
    target's parent.

    Parameters
    ----------
    pm
        The controller's phase map.
    shown_greens
        Phases it shows green now.
    approved, then
        The approved step and the target it leads to (SUMO characters, one per link).
    on
        Phases active in their ring now: never omitted (see :func:`controls_for`).

    Raises
    ------
    NemaError
        If no set of the controller's phases shows ``then``.
    """
    target = phases_of(pm, then)[0]
    ending = frozenset(
        p.number for p in pm.phases
        if p.number in shown_greens - target
        and (not p.links or any(approved[i] not in GREEN_CHARS for i in p.links))
    )  # fmt: skip
    walks = _walks(pm, target, then)
    return PhaseControls(
        hold=shown_greens - ending,
        force_off=ending,
        omit=pm.numbers - target - shown_greens - on,
        veh_call=target - shown_greens,
        ped_call=walks,
    )


def writes_for(
    signal_ids: Iterable[str],
    commanded: Collection[str],
    pending: Mapping[str, PhaseControls],
    sent: Mapping[str, PhaseControls],
) -> dict[str, PhaseControls]:
    """This tick's writes: each commanded signal's pending controls (which renew its lease),
    and all-zero controls for a signal held before and not commanded now (released)."""
    out: dict[str, PhaseControls] = {}
    for sid in signal_ids:
        if sid in commanded and sid in pending:
            out[sid] = pending[sid]
        elif sid in sent and not sent[sid].released:
            out[sid] = RELEASED
    return out


def require_approved(port: str, command: object) -> ApprovedCommand:
    """``command`` if the guard approved it.

    Raises
    ------
    TypeError
        If it is not an :class:`~clearway.signals.safety.commands.ApprovedCommand` (``port``
        names the port in the message): a port sends only the guard's approvals.
    """
    if not isinstance(command, ApprovedCommand):
        raise TypeError(
            f"{port}.apply takes only an ApprovedCommand from SafetyGuard.check(), "
            f"got {type(command).__name__}"
        )
    return command


__all__ = ["CONTROL_OBJECTS", "RELEASED", "NemaError", "PhaseControls", "controls_for", "phase_groups", "require_approved", "toward", "writes_for"]
