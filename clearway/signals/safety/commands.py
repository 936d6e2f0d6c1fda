"""Commands to signals: proposed (:class:`SignalCommand`) and approved (:class:`ApprovedCommand`).

Adapters accept only :class:`ApprovedCommand`. Its constructor demands a token that only
:mod:`clearway.signals.safety.guard` holds, so no code path can build one without the guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_GUARD_TOKEN = object()


@dataclass(frozen=True, slots=True)
class SignalCommand:
    """A controller's proposal: show ``state`` on ``signal_id`` from ``time_s`` (s) on.

    ``source`` names the controller (for the audit log). ``emergency`` is informational only:
    it never relaxes a safety rule (MUTCD 4D.27: clearance is never shortened for preemption).

    ``then`` is the state this step leads to, for signals whose controller runs its own change
    intervals (field controllers): it is steered straight toward ``then`` (its phases called,
    every other phase omitted) instead of being led link by link. The guard approves ``then``
    only if it has no conflicting greens; the twin ignores it.
    """

    signal_id: str
    state: str
    time_s: float
    source: str = ""
    emergency: bool = False
    then: str | None = None


class ApprovedCommand:
    """A command the safety guard has approved. Immutable; constructed only by the guard."""

    __slots__ = ("signal_id", "state", "time_s", "source", "then")

    signal_id: str
    state: str
    time_s: float
    source: str
    then: str | None

    def __init__(self, command: SignalCommand, *, _token: object = None) -> None:
        if _token is not _GUARD_TOKEN:
            raise TypeError("ApprovedCommand is made only by SafetyGuard.check()")
        # Unrolled (one per approved command, every tick): the fields of __slots__.
        init = object.__setattr__
        init(self, "signal_id", command.signal_id)
        init(self, "state", command.state)
        init(self, "time_s", command.time_s)
        init(self, "source", command.source)
        init(self, "then", command.then)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ApprovedCommand is immutable")

    def __repr__(self) -> str:
        return f"ApprovedCommand({self.signal_id!r}, {self.state!r}, t={self.time_s})"


def _approve(command: SignalCommand) -> ApprovedCommand:
    return ApprovedCommand(command, _token=_GUARD_TOKEN)
