"""The control loop: read state -> controller proposes -> guard approves -> adapter applies.

Written against the ports only (:mod:`clearway.ports`), so unit tests run it with fakes and
the same loop drives the SUMO twin in evaluation and real controllers in service.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter

from clearway.control.base import Controller
from clearway.ports import Clock, SignalPort, StateSource
from clearway.signals.safety.commands import SignalCommand
from clearway.signals.safety.guard import SafetyGuard, Verdict
from clearway.signals.timers import SignalTimers
from clearway.state.traffic import TrafficState

VerdictListener = Callable[[Verdict], None]

#: How many rejected verdicts a loop keeps for inspection (all are counted).
_KEEP_REJECTIONS = 1000


@dataclass
class LoopStats:
    """Counters of a control loop's life.

    Attributes
    ----------
    ticks
        Ticks run.
    proposed, approved, rejected
        Commands proposed by the controller, approved and rejected by the guard.
    rejected_by_rule
        Rejections per rule code (``R1-conflict`` ...); one command may break several rules.
    rejections
        The first rejected verdicts, with their reasons.
    not_taken_over
        Signals whose state at start the guard refused to hold and the controller could not
        make safe: they still run their own program (see :attr:`ControlLoop.controlled`).
    """

    ticks: int = 0
    proposed: int = 0
    approved: int = 0
    rejected: int = 0
    rejected_by_rule: Counter[str] = field(default_factory=Counter)
    rejections: list[Verdict] = field(default_factory=list)
    not_taken_over: list[str] = field(default_factory=list)


class ControlLoop:
    """Runs a controller against signals, every command through the safety guard.

    Parameters
    ----------
    signals, state, clock
        The ports (the SUMO twin implements all three).
    guard
        The safety guard every command passes.
    controller
        The strategy proposing commands.
    tick_s
        Traffic time between two decisions (s).
    on_verdict
        Called with every verdict (approved or not): the audit hook.
    """

    def __init__(
        self,
        signals: SignalPort,
        state: StateSource,
        clock: Clock,
        guard: SafetyGuard,
        controller: Controller,
        *,
        tick_s: float = 1.0,
        on_verdict: VerdictListener | None = None,
    ) -> None:
        if tick_s <= 0:
            raise ValueError(f"tick_s must be positive, got {tick_s}")
        self.signals = signals
        self.state = state
        self.clock = clock
        self.guard = guard
        self.controller = controller
        self.tick_s = float(tick_s)
        self.on_verdict = on_verdict
        #: Observed history per signal. ``time_s`` of a signal whose state did not change at
        #: the last tick may lag behind it; every other field is current.
        self.timers: dict[str, SignalTimers] = {}
        self._observed_s = float("-inf")
        self.stats = LoopStats()
        #: The last detector aggregates read, for displays (empty before any was read).
        self.last_traffic = TrafficState.empty()
        controlled = set(guard.intersections)
        self._signal_ids = [s for s in signals.signal_ids() if s in controlled]
        self._controlled: set[str] = set()
        # The states the timers hold, in _signal_ids order: a tick whose reading equals it (the
        # usual case: signals change only through the loop's own commands, which update both)
        # compares one list instead of every signal.
        self._known: list[str] | None = None
        self._position = {sid: k for k, sid in enumerate(self._signal_ids)}
        self._pick = _picker(self._signal_ids)

    @property
    def controlled(self) -> frozenset[str]:
        """Signals that have shown only guard-approved states since the loop took them over."""
        return frozenset(self._controlled)

    def tick(self) -> None:
        """One decision: observe, propose, judge, apply."""
        now = self.clock.now_s()
        shown = list(self._pick(self.signals.read_signal_states()))
        timers = self.timers
        first = not timers
        self._observed_s = now
        if shown != self._known:
            self._observe_changes(shown, now)
        if self._reads_traffic(now):
            fields = getattr(self.controller, "traffic_fields", None)
            traffic = (
                self.state.read_traffic_state()
                if fields is None
                else self.state.read_traffic_state(fields)
            )
        else:
            traffic = TrafficState.empty(now)
        if traffic.lane_ids:
            self.last_traffic = traffic
        commanded = set()
        for cmd in self.controller.propose(now, self.timers, traffic):
            self.stats.proposed += 1
            if self._judge_and_apply(cmd):
                commanded.add(cmd.signal_id)
        if first and getattr(self.controller, "takes_over", True):
            self._take_over(now, commanded)
        end_tick = getattr(self.signals, "end_tick", None)
        if end_tick is not None:
            # A port whose commands are leases (field controllers) renews the signals
            # commanded this tick and releases the others it held.
            end_tick(now, frozenset(commanded))
        self.stats.ticks += 1

    def _observe_changes(self, shown: list[str], now: float) -> None:
        timers = self.timers
        known = self._known
        for k, sid in enumerate(self._signal_ids):
            state = shown[k]
            if known is not None and known[k] == state:
                continue
            prev = timers.get(sid)
            if prev is None:
                timers[sid] = SignalTimers.start(sid, state, now)
            elif prev.state != state:
                timers[sid] = prev.observe(state, now)
            # Unchanged, only the observation time would move (a new object per signal per
            # tick, most of a city's tick): _judged_timers brings it up to date when needed.
        self._known = shown

    def run(self, duration_s: float, on_tick: Callable[[float], None] | None = None) -> LoopStats:
        """Tick until ``duration_s`` of traffic time has passed; returns the counters."""
        end = self.clock.now_s() + duration_s
        while self.clock.now_s() + 1e-9 < end:
            self.tick()
            self.clock.advance(self.tick_s)
            if on_tick is not None:
                on_tick(self.clock.now_s())
        return self.stats

    def _take_over(self, now: float, commanded: set[str]) -> None:
        # A signal left alone keeps running its own program, which the guard never saw: every
        # signal the controller did not command on the first tick holds what it shows, through
        # the guard, so from here on only approved states appear. A signal whose current state
        # the guard refuses stays with its own program and is reported.
        for sid in self._signal_ids:
            if sid in commanded:
                continue
            hold = SignalCommand(sid, self.timers[sid].state, now, source="takeover")
            if not self._judge_and_apply(hold):
                self.stats.not_taken_over.append(sid)

    def _reads_traffic(self, now_s: float) -> bool:
        if not getattr(self.controller, "uses_traffic_state", True):
            return False
        due = getattr(self.controller, "traffic_due", None)
        return due is None or bool(due(now_s))

    def _judged_timers(self, signal_id: str) -> SignalTimers | None:
        # The guard judges against the state observed at this tick, stamped with its time.
        t = self.timers.get(signal_id)
        if t is not None and t.time_s < self._observed_s:
            t = self.timers[signal_id] = t.observe(t.state, self._observed_s)
        return t

    def _judge_and_apply(self, cmd: SignalCommand) -> bool:
        verdict = self.guard.check(cmd, self._judged_timers(cmd.signal_id))
        if verdict.approved is not None:
            self.signals.apply(verdict.approved)
            self.stats.approved += 1
            if getattr(self.signals, "applies_immediately", True):
                # The state is shown from now on; timing it from the next observation would
                # add a tick to every interval.
                self.timers[cmd.signal_id] = self.timers[cmd.signal_id].observe(
                    cmd.state, cmd.time_s
                )
                k = self._position.get(cmd.signal_id)
                if k is not None and self._known is not None:
                    self._known[k] = cmd.state
            # else (a field controller): it changes what it shows through its own clearance
            # when it can, and the timers follow what is read back on the next tick.
            self._controlled.add(cmd.signal_id)
        else:
            self.stats.rejected += 1
            for reason in verdict.reasons:
                self.stats.rejected_by_rule[reason.split(":", 1)[0]] += 1
            if len(self.stats.rejections) < _KEEP_REJECTIONS:
                self.stats.rejections.append(verdict)
        if self.on_verdict is not None:
            self.on_verdict(verdict)
        return verdict.ok


def _picker(ids: list[str]) -> Callable[[Mapping[str, str]], tuple[str, ...]]:
    # itemgetter looks every id up in C, but returns a bare value (not a 1-tuple) for one id.
    if len(ids) > 1:
        return itemgetter(*ids)
    return lambda shown: tuple(shown[sid] for sid in ids)
