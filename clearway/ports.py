"""Ports: the Protocols the core is written against. Adapters (``clearway.sim``, later real
controllers and detector feeds) implement them; unit tests use fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol, runtime_checkable

from clearway.control.priority.request import PositionUpdate
from clearway.signals.safety.commands import ApprovedCommand
from clearway.state.traffic import TrafficState

#: Called after every simulation step with (time_s, {signal_id: state shown}).
StepListener = Callable[[float, Mapping[str, str]], None]


@runtime_checkable
class SignalPort(Protocol):
    """Reads what signals show and applies guard-approved commands (nothing else)."""

    def signal_ids(self) -> Sequence[str]:
        """Ids of the signals this port drives."""
        ...

    def read_signal_states(self) -> Mapping[str, str]:
        """The state string every signal shows now, keyed by signal id."""
        ...

    def apply(self, command: ApprovedCommand) -> None:
        """Show an approved command's state. Refuses anything that is not an ApprovedCommand."""
        ...

    # Optional, for ports whose commands are leases (field controllers over NTCIP):
    #: ``applies_immediately = False``: an applied state is shown only once the controller
    #: has run its own clearance; the loop then times signals from what it reads back.
    #: ``end_tick(now_s, commanded)``: called once per tick after every command was applied,
    #: with the signals commanded this tick; the port renews their leases and releases the
    #: signals it no longer commands (they return to their own program).


@runtime_checkable
class StateSource(Protocol):
    """Aggregate traffic state (per-lane detector data) — never individual private vehicles."""

    def read_traffic_state(self, fields: Collection[str] | None = None) -> TrafficState:
        """Per-lane aggregates now. ``fields`` (names from
        :data:`~clearway.state.traffic.TRAFFIC_FIELDS`) limits what must be read — at city
        scale reading detectors is most of a tick; the others may be ``nan``."""
        ...


@runtime_checkable
class Clock(Protocol):
    """Traffic time: the simulator's clock in evaluation, the wall clock in service."""

    def now_s(self) -> float:
        """Current time (s)."""
        ...

    def advance(self, dt_s: float) -> None:
        """Let ``dt_s`` seconds of traffic time pass (steps the simulator, or sleeps)."""
        ...


@runtime_checkable
class PriorityVehicleFeed(Protocol):
    """Positions of the priority vehicles only (never of private vehicles)."""

    def priority_positions(self) -> Mapping[str, PositionUpdate]:
        """The latest position of each tracked priority vehicle, by its id; a vehicle that is
        not (or no longer) on the network is absent."""
        ...
