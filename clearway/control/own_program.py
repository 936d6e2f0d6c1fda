"""Normal control left to the signal controllers themselves (field equipment).

A field controller runs its own, locally tuned program (actuated, coordinated) and keeps
running it whatever happens to clearway. Between emergencies clearway only watches it; a
priority hold commands it through phase controls (hold, force-off, omit, call), and once the
hold and its recovery are over clearway stops commanding, so the controller is back on its
own program through its own clearance. This controller is the "normal" one under priority in
that mode: it proposes nothing and takes nothing over.
"""

from __future__ import annotations

from collections.abc import Mapping

from clearway.signals.safety.commands import SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.state.traffic import TrafficState


class OwnProgram:
    """The controllers' own programs as clearway's normal control (a
    :class:`~clearway.control.base.Resumable` that never commands).

    Parameters
    ----------
    name
        Strategy name for reports (``own-program``).
    """

    uses_traffic_state = False
    #: The loop leaves the signals on their own programs at start (nothing held).
    takes_over = False

    def __init__(self, name: str = "own-program") -> None:
        self.name = name

    def propose(
        self, now_s: float, timers: Mapping[str, SignalTimers], traffic: TrafficState
    ) -> list[SignalCommand]:
        """Nothing: the controllers run themselves."""
        return []

    def resume(self, signal_id: str, now_s: float, phase_index: int) -> None:
        """Nothing to do: the controller resumes its own program once released."""

    def next_green_s(self, signal_id: str, links: frozenset[int], now_s: float) -> float | None:
        """Unknown: a controller's actuated program does not say in advance (s)."""
        return None

    def phase_in_service(self, signal_id: str) -> int | None:
        """Unknown in terms of the net's program phases."""
        return None
