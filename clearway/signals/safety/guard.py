"""The safety guard: one fail-closed gate that every signal command passes.

``SafetyGuard.check`` is a pure function of (intersection model, observed signal history,
proposed command) -> :class:`Verdict`. Only it constructs :class:`ApprovedCommand`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from clearway.signals.memo import BoundedMemo
from clearway.signals.model import Intersection
from clearway.signals.safety import rules
from clearway.signals.safety.commands import ApprovedCommand, SignalCommand, _approve
from clearway.signals.timers import SignalTimers

#: Default limit on the age of the observed state a command is judged against (s).
DEFAULT_MAX_STATE_AGE_S = 2.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The guard's answer: ``approved`` is set, or ``reasons`` says every rule that failed."""

    command: SignalCommand
    approved: ApprovedCommand | None
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the command was approved."""
        return self.approved is not None


class SafetyGuard:
    """Approves or rejects signal commands against the rules of DESIGN.md §3.

    Parameters
    ----------
    intersections
        The intersection model of every signal the guard may approve commands for; a command
        for any other signal is rejected.
    max_state_age_s
        A command judged against an observation older than this is rejected (s).
    """

    def __init__(
        self,
        intersections: Mapping[str, Intersection],
        *,
        max_state_age_s: float = DEFAULT_MAX_STATE_AGE_S,
    ) -> None:
        self._models = MappingProxyType(dict(intersections))
        self.max_state_age_s = float(max_state_age_s)
        # Per signal, what does not depend on the clocks, worked out once per string pair:
        # R1's reasons by (state, then), R2's and R3's tests by (observed, commanded), R5's
        # checks of the command's strings by (state, then).
        self._greens = {sid: BoundedMemo() for sid in self._models}
        self._pairs = {sid: BoundedMemo() for sid in self._models}
        self._strings = {sid: BoundedMemo() for sid in self._models}

    @property
    def intersections(self) -> Mapping[str, Intersection]:
        """The intersection models the guard knows (read-only)."""
        return self._models

    def check(self, command: SignalCommand, timers: SignalTimers | None) -> Verdict:
        """Judge ``command`` against the observed history ``timers`` of its signal."""
        try:
            reasons = self._reasons(command, timers)
        except Exception as exc:  # fail closed: a bug or odd input never approves
            reasons = [f"R5-malformed: could not be judged ({type(exc).__name__}: {exc})"]
        if reasons:
            return Verdict(command, None, tuple(reasons))
        return Verdict(command, _approve(command), ())

    def _reasons(self, command: SignalCommand, timers: SignalTimers | None) -> list[str]:
        if not isinstance(command, SignalCommand):
            return [f"R5-malformed: expected a SignalCommand, got {type(command).__name__}"]
        model = self._models.get(command.signal_id)
        if model is None:
            return [f"R5-malformed: unknown signal {command.signal_id!r}"]
        sid = command.signal_id
        reasons = rules.malformed_memo(
            model, timers, command, self.max_state_age_s, self._strings[sid]
        )
        if reasons:
            return reasons
        assert timers is not None
        plan = rules.pair_plan(model, timers.state, command.state, self._pairs[sid])
        return (
            rules.conflicting_greens(model, command, self._greens[sid])
            + rules.transitions(plan, timers, command.time_s)
            + rules.clearance(plan, timers, command.time_s)
        )
