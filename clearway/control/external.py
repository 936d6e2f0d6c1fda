"""A controller that leaves the signals to something else (the simulator's own programs).

Used for external baselines such as SUMO's ``actuated`` programs: the control loop runs (so
the same clock, monitor and measurements apply) but proposes nothing and takes nothing over.
"""

from __future__ import annotations

from collections.abc import Mapping

from clearway.signals.safety.commands import SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.state.traffic import TrafficState


class ExternalControl:
    """Proposes no command; the loop does not take the signals over.

    Parameters
    ----------
    name
        The strategy's name, for reports.
    """

    uses_traffic_state = False
    #: The control loop holds every signal through the guard on its first tick unless false.
    takes_over = False

    def __init__(self, name: str) -> None:
        self.name = name

    def propose(
        self, now_s: float, timers: Mapping[str, SignalTimers], traffic: TrafficState
    ) -> list[SignalCommand]:
        """Nothing: the signals run their own programs."""
        return []
