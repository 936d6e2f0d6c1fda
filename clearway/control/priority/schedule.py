"""The normal program's timetable at a held signal, for handing it back at a safe moment.

A fixed-time program that resynchronises after a hold (the default,
:class:`~clearway.control.fixed_time.FixedTimeController`) goes straight back to the phase its
uninterrupted cycle shows now — the timetable runs on under the hold and the recovery. If that
moment falls inside one of the program's change intervals (a yellow phase), the controller
targets a yellow that cannot be reached from the state the recovery left (a link cannot go
from red to yellow) and waits there until it gives up: on the Berlin net's joinedS_0 the
signal stood on yellow and red for 116 s after a hold (seed 2). So the recovery hands the
signal back only while the timetable shows a green phase, showing the green phase the
interval leads to until then.

The timetable is read from the normal controller itself at the start of the hold: when it will
next show the program's next phase (``next_green_s``) anchors the cycle, the program's phase
durations give the rest. A controller that cannot say (adaptive control: no timetable) gives
none, and the signal is handed back as soon as its recovery is done. Pure; times in s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from clearway.control.base import Resumable
from clearway.signals.model import GREEN_CHARS, YELLOW_CHARS


@dataclass(frozen=True, slots=True)
class Timetable:
    """A signal program's cycle as its controller will run it.

    Attributes
    ----------
    anchor_phase
        A program phase (index) ...
    anchor_s
        ... and a time it starts (s).
    durations_s
        Every program phase's scheduled duration, in program order (s).
    """

    anchor_phase: int
    anchor_s: float
    durations_s: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.durations_s or not sum(self.durations_s) > 0:
            raise ValueError(f"a timetable needs a positive cycle, got {self.durations_s}")
        if not 0 <= self.anchor_phase < len(self.durations_s):
            raise ValueError(f"anchor phase {self.anchor_phase} is not one of the program's")

    @property
    def cycle_s(self) -> float:
        """Cycle length (s)."""
        return float(sum(self.durations_s))

    def phase_at(self, t_s: float) -> int:
        """The phase the timetable shows at ``t_s`` (s)."""
        x = (t_s - self.anchor_s) % self.cycle_s
        n = len(self.durations_s)
        for step in range(n):
            k = (self.anchor_phase + step) % n
            if x < self.durations_s[k]:
                return k
            x -= self.durations_s[k]
        return (self.anchor_phase - 1) % n  # rounding at the cycle's end


def foresee(
    normal: Resumable, signal_id: str, phases: Sequence[str], durations_s: Sequence[float],
    now_s: float,
) -> Timetable | None:
    """The timetable ``normal`` runs at ``signal_id``, as it says now; ``None`` if it cannot say.

    Parameters
    ----------
    normal
        The normal controller (its ``phase_in_service`` and ``next_green_s``).
    phases, durations_s
        The program's phase states and scheduled durations (s), in program order.
    now_s
        Time now (s).
    """
    n = len(phases)
    if n == 0 or len(durations_s) != n or not sum(durations_s) > 0:
        return None
    k0 = normal.phase_in_service(signal_id)
    if k0 is None or not 0 <= k0 < n:
        return None
    shown = _greens(phases[k0])
    for step in range(1, n + 1):
        j = (k0 + step) % n
        greens = _greens(phases[j])
        if not greens or greens <= shown:
            continue  # a change interval, or nothing new: not when a green of its own starts
        t = normal.next_green_s(signal_id, greens, now_s)
        if t is None or not math.isfinite(t) or t < now_s:
            return None
        return Timetable(j, float(t), tuple(float(d) for d in durations_s))
    return None


def entry_phase(phases: Sequence[str], timetable: Timetable, now_s: float) -> int | None:
    """While the timetable is in a change interval (a phase with a yellow, or no green), the
    green phase it changes to (to show until the timetable gets there); ``None`` while it
    shows a green phase, when the signal can be handed back."""
    n = len(phases)
    k = timetable.phase_at(now_s)
    if not _change_interval(phases[k]):
        return None
    for step in range(1, n + 1):
        j = (k + step) % n
        if not _change_interval(phases[j]):
            return j
    return None


def _change_interval(state: str) -> bool:
    return any(c in YELLOW_CHARS for c in state) or not any(c in GREEN_CHARS for c in state)


def _greens(state: str) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(state) if c in GREEN_CHARS)
