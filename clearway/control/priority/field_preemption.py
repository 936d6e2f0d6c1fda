"""Priority on field controllers: only states their NEMA phases can show, holds as leases.

A field controller shows combinations of its phases (one phase per ring inside a barrier
group, and the overlaps those drive) and runs its own change intervals; clearway reaches it
through phase controls (hold, force-off, omit, call), never by link states. So on such a
signal the corridor
- targets the phase combination that serves the vehicle's movement (and as much of the
  rest of the claim as it can), not a custom state;
- sends the guard the next link-level step (:func:`~clearway.signals.transition.step_toward`)
  with the target as ``then``: the controller is steered straight to the target and runs
  its own change intervals (never shorter than the model's), ending a phase once the step
  ends any of its links;
- claims the signal at the latest moment that is safe whatever the controller's own
  program does next (:func:`unknown_next`);
- renews every held signal's command each tick (the port sends the controls again: a lease
  the controller drops after its backup time when clearway goes silent);
- ends a hold by releasing the controller, whose own program serves the phases that waited
  (their detector calls are standing) through its own clearance.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from clearway.control.priority.desk import RecoveryRecord
from clearway.control.priority.preemption import Hold, PreemptionController
from clearway.signals.model import GREEN_CHARS, OFF_CHARS
from clearway.signals.nema import PhaseMap, state_of
from clearway.signals.safety.commands import SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.signals.transition import step_toward

#: After a hold was cut at its maximum, the same request may hold the signal again only
#: after this long (s): the controller needs a cycle to serve what waited.
BLOCKED_COOLDOWN_S = 60.0
#: A field controller acts on phase controls at its next step, one tick after a link state
#: set directly would show (s): the advice to a vehicle waiting behind another counts it.
CONTROL_LATENCY_S = 1.0


def phase_combos(pm: PhaseMap) -> tuple[frozenset[int], ...]:
    """Sets of phases the controller can show green together: inside each barrier group,
    at most one phase of each ring (a ring whose phases there have no call rests in red).

    Returns
    -------
    tuple[frozenset[int], ...]
        Phase numbers of every non-empty combination, barrier groups in cycle order.
    """
    out: dict[frozenset[int], None] = {}
    for group in pm.barriers:
        per_ring: dict[int, list[int | None]] = {}
        for ph in pm.phases:
            if ph.number in group:
                per_ring.setdefault(ph.ring, []).append(ph.number)
        options = [[*per_ring[r], None] for r in sorted(per_ring)]
        for combo in itertools.product(*options):
            k = frozenset(p for p in combo if p is not None)
            if k:
                out[k] = None
    return tuple(out)


def unknown_next(shown: str) -> str:
    """What an actuated controller's own program may show next, as the worst case: every
    green ending and every other link starting green.

    Such a controller ends a green at its next gap or maximum and starts the next phase it
    has a call for, and says neither in advance. So the corridor claims its signal from the
    latest moment the vehicle's green could still be brought back in time after anything the
    controller might start (its minimum green included), whether that green shows now or not.
    """
    return "".join(
        "r" if c in GREEN_CHARS else c if c in OFF_CHARS else "G" for c in shown
    )  # a link switched off is never driven: it stays off


def _greens(state: str) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(state) if c in GREEN_CHARS)


def combo_target(
    pm: PhaseMap, links: frozenset[int], core: frozenset[int], current: str
) -> str:
    """The phase combination's state that best serves a claim.

    Ranks every combination by the vehicle's own links it shows green, then the other
    claimed links, then the links green now that it keeps green (fewer changes), then fewer
    phases. Walks already running in its phases go on (a walk is never cut; the controller
    would not cut it either).

    Parameters
    ----------
    pm
        The controller's phase map.
    links, core
        Claimed link indices, and the vehicle's own movement among them.
    current
        The state shown now.
    """
    green_now = _greens(current)
    best: tuple[tuple[int, int, int, int], str] | None = None
    for combo in phase_combos(pm):
        walks = {
            ph.number for ph in pm.phases
            if ph.number in combo and ph.ped_links and ph.ped_links <= green_now
        }  # fmt: skip
        state = state_of(pm, combo, (), walks, ())
        g = _greens(state)
        score = (len(core & g), len(links & g), len(green_now & g), -len(combo))
        if best is None or score > best[0]:
            best = (score, state)
    return current if best is None else best[1]


class FieldPreemption(PreemptionController):
    """:class:`PreemptionController` for signals run by field controllers.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`PreemptionController` (its ``normal`` is usually
        :class:`~clearway.control.own_program.OwnProgram`).
    phase_maps
        Per field signal id its controller's phase map; other signals are served as by the
        base class.
    """

    def __init__(self, *args: object, phase_maps: Mapping[str, PhaseMap], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.phase_maps = dict(phase_maps)
        self._latency_s = {sid: CONTROL_LATENCY_S for sid in self.phase_maps}
        self._blocked_at: dict[tuple[str, str], float] = {}

    def _target_state(
        self, sid: str, links: frozenset[int], current: str, core: frozenset[int]
    ) -> str:
        pm = self.phase_maps.get(sid)
        if pm is None:
            return super()._target_state(sid, links, current, core)
        return combo_target(pm, links, core, current)

    def _command(
        self, commands: list[SignalCommand], sid: str, t: SignalTimers, target: str, now_s: float
    ) -> None:
        pm = self.phase_maps.get(sid)
        if pm is None:
            super()._command(commands, sid, t, target, now_s)
            return
        # Always a command, even one that changes nothing: it renews the hold's lease. It
        # carries its target, so the controller is steered straight there through its own
        # change intervals, not led through every state the link-level step passes.
        nxt = step_toward(self.models[sid], t, target, now_s)
        commands.append(SignalCommand(sid, nxt, now_s, source=self.name, then=target))

    def _upcoming(self, sid: str, shown: str, upcoming: Mapping[str, str]) -> str:
        if sid not in self.phase_maps:
            return super()._upcoming(sid, shown, upcoming)
        return unknown_next(shown)

    def _after_hold(self, sid: str, hold: Hold, now_s: float) -> None:
        if sid not in self.phase_maps:
            super()._after_hold(sid, hold, now_s)
            return
        # Released: the controller's own program serves what waited, through its own
        # clearance; the record's recovery time is the release.
        self._records.append(
            RecoveryRecord(
                sid, tuple(sorted(hold.requests)), hold.start_s, now_s, now_s, (),
                self._hold_cost.finish(sid),
            )  # fmt: skip
        )
        for key in [k for k in self._blocked if k[0] == sid]:
            self._blocked_at.setdefault(key, now_s)

    def propose(self, now_s: float, timers, traffic):  # type: ignore[no-untyped-def]
        """As the base class; a request cut at the maximum hold may hold a field signal
        again only after :data:`BLOCKED_COOLDOWN_S`."""
        for key, since in list(self._blocked_at.items()):
            if now_s - since >= BLOCKED_COOLDOWN_S:
                self._blocked.discard(key)
                del self._blocked_at[key]
        return super().propose(now_s, timers, traffic)


class PhaseLimitedPreemption(PreemptionController):
    """:class:`PreemptionController` commanding the links directly, its holds limited to the
    states the signals' NEMA phases can show.

    Everything else is the base class's (its normal controller, program knowledge, hold
    starts, recovery). Set beside :class:`FieldPreemption` on the same seeds it separates what
    running through field controllers costs (phase controls, their latency, their own change
    intervals and programs) from what a signal's phase structure costs (a movement that no
    phase combination shows protected stays permissive in both).

    Parameters
    ----------
    *args, **kwargs
        As for :class:`PreemptionController`.
    phase_maps
        Per signal id the phase map its holds are limited to; other signals as the base class.
    """

    def __init__(self, *args: object, phase_maps: Mapping[str, PhaseMap], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.phase_maps = dict(phase_maps)

    def _target_state(
        self, sid: str, links: frozenset[int], current: str, core: frozenset[int]
    ) -> str:
        pm = self.phase_maps.get(sid)
        if pm is None:
            return super()._target_state(sid, links, current, core)
        return combo_target(pm, links, core, current)
