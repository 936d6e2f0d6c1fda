"""What a controller is: something that proposes signal commands each tick."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from clearway.signals.safety.commands import SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.state.traffic import TrafficState


class Controller(Protocol):
    """Proposes commands; never applies them (the loop passes each through the guard)."""

    name: str
    #: False for controllers that ignore detector data (fixed-time): the loop then skips
    #: reading it, which is most of a tick's cost on a city with thousands of detectors.
    uses_traffic_state: bool
    #: Optional: ``traffic_fields`` (names of TRAFFIC_FIELDS) limits which detector aggregates
    #: the loop reads for it; all are read when the attribute is absent or ``None``.
    #: Optional: ``traffic_due(now_s) -> bool`` says whether this tick's proposal uses the
    #: detectors at all (a controller deciding every few seconds); when it returns False the
    #: loop passes an empty state instead of reading a city's detectors. Absent: every tick.

    def propose(
        self, now_s: float, timers: Mapping[str, SignalTimers], traffic: TrafficState
    ) -> Sequence[SignalCommand]:
        """Commands for this tick. A signal without a command keeps showing what it shows.

        Parameters
        ----------
        now_s
            Time of the tick (s).
        timers
            Observed state and history of every signal, keyed by signal id.
        traffic
            Per-lane detector aggregates.
        """
        ...


@runtime_checkable
class Resumable(Protocol):
    """A controller that can take a signal back after something else ran it (a priority hold
    and its recovery)."""

    name: str
    uses_traffic_state: bool

    def propose(
        self, now_s: float, timers: Mapping[str, SignalTimers], traffic: TrafficState
    ) -> Sequence[SignalCommand]:
        """As :meth:`Controller.propose`."""
        ...

    def resume(self, signal_id: str, now_s: float, phase_index: int) -> None:
        """Run ``signal_id`` again from now, starting with program phase ``phase_index``."""
        ...

    def next_green_s(self, signal_id: str, links: frozenset[int], now_s: float) -> float | None:
        """When it will next show all ``links`` green if left alone (s); ``None`` if it
        cannot say. Lets priority leave alone a junction that will serve the vehicle anyway."""
        ...

    def phase_in_service(self, signal_id: str) -> int | None:
        """The program phase it is serving (the one shown, or the one before the phase it is
        moving into); ``None`` if unknown."""
        ...
