"""Conditional transit priority: a late bus may have its green stretched or brought forward.

Never preemption. For the green phase a signal shows, the normal program has an end
(:attr:`PhaseWindow.normal_end_s`). A bus late against its schedule by more than
``late_threshold_s`` may move that end, and only that:

* **green extension** — the phase serves the bus: it ends when the bus is through, at most
  ``max_extension_s`` after its normal end, and only if the bus gets through by then;
* **early green** — the next phase the program serves is the bus's and the bus would reach
  the stop line before that green starts: the current phase ends up to ``max_early_s``
  before its normal end, never before its own minimum green
  (:attr:`PhaseWindow.floor_end_s`), so the bus's green comes sooner.

No phase is skipped, no order changes, a phase is never cut below its minimum green, and the
cross street's phase still comes every cycle (the program runs on, a few seconds shifted). A
bus on time, or one that would miss the stretched green anyway, changes nothing. Pure
functions: the controller (:mod:`clearway.control.transit_control`) feeds them each tick.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class TransitSettings:
    """How much a late bus may get.

    Attributes
    ----------
    late_threshold_s
        A bus is served only when later than this against its schedule (s).
    max_extension_s
        Longest a green is stretched past its normal end for a bus (s).
    max_early_s
        Longest a green serving the bus is brought forward, by ending the phase before it
        early (s).
    pass_s
        Time after the bus reaches the stop line that it is taken to be through (s).
    """

    late_threshold_s: float = 60.0
    max_extension_s: float = 10.0
    max_early_s: float = 10.0
    pass_s: float = 2.0

    def __post_init__(self) -> None:
        for name in ("late_threshold_s", "max_extension_s", "max_early_s", "pass_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0 (s), got {v!r}")


@dataclass(frozen=True, slots=True)
class PhaseWindow:
    """The green phase a signal shows now, as the normal program runs it.

    Attributes
    ----------
    normal_end_s
        When the program ends it (s).
    floor_end_s
        Earliest it may end: its start plus the longest minimum green of its green links (s).
    gap_s
        From its end to the start of the next green phase: yellow, all-red (s).
    """

    normal_end_s: float
    floor_end_s: float
    gap_s: float


class Served(StrEnum):
    """Which phase shows a bus's movement green: the one shown now, the next green phase the
    program serves, or a later one."""

    NOW = "now"
    NEXT = "next"
    LATER = "later"


@dataclass(frozen=True, slots=True)
class BusCall:
    """A bus approaching the signal: when it reaches the stop line (s), how late it runs
    (s, positive = late), and which phase serves its movement."""

    eta_s: float
    lateness_s: float
    served: Served


class Action(StrEnum):
    """What transit priority does to the phase."""

    NONE = "none"
    EXTEND = "extend"
    EARLY = "early"


@dataclass(frozen=True, slots=True)
class TransitDecision:
    """The phase's end with transit priority (s), and why."""

    action: Action
    end_s: float


def is_late(call: BusCall, settings: TransitSettings) -> bool:
    """Whether ``call``'s bus is late enough to be served."""
    return call.lateness_s > settings.late_threshold_s


def decide(
    window: PhaseWindow, calls: Iterable[BusCall], settings: TransitSettings, now_s: float
) -> TransitDecision:
    """When the phase ends with transit priority.

    Extension wins over early green: a phase whose green a late bus still needs (it gets
    through by the normal end, or by the longest extension) is never cut for another bus.
    Among extensions the latest bus that can still make it sets the end; among early greens
    the earliest bus. The end is never before ``now_s`` unless the normal end already is
    (then the program ends the phase, as it would anyway).
    """
    normal = window.normal_end_s
    late = [c for c in calls if is_late(c, settings) and math.isfinite(c.eta_s)]
    reach = normal + settings.max_extension_s
    through = [c.eta_s + settings.pass_s for c in late if c.served is Served.NOW]
    needs = [t for t in through if t <= reach]
    if needs:
        wanted = max(needs)
        if wanted > normal:
            return TransitDecision(Action.EXTEND, wanted)
        return TransitDecision(Action.NONE, normal)
    # A late bus that would reach the stop line before its green's normal start: the phase
    # before ends as soon as the limits allow (red truncation).
    early = [c for c in late if c.served is Served.NEXT and c.eta_s < normal + window.gap_s]
    if early:
        end = max(normal - settings.max_early_s, window.floor_end_s, now_s)
        if end < normal:
            return TransitDecision(Action.EARLY, end)
    return TransitDecision(Action.NONE, normal)
