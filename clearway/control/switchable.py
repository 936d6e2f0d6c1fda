"""Normal control chosen per signal, switchable while running (an operator's decision).

A traffic engineer runs most of a city under one strategy and some junctions under another
(a fixed plan where detectors are broken, max-pressure on an arterial); the choice changes
while the city runs. :class:`SwitchableControl` holds one controller per strategy in use and
gives each the signals assigned to it. A switch hands the signal over in the phase it is
serving (``resume``), so the new controller continues the cycle instead of restarting it;
every step still passes the safety guard in the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from clearway.control.base import Controller, Resumable
from clearway.errors import ConfigError, UnknownSignalError
from clearway.signals.safety.commands import SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.state.traffic import PERSON_FIELD, TRAFFIC_FIELDS, TrafficState

#: Builds the controller of a strategy (for every modelled signal).
ControllerFactory = Callable[[str], Controller]


class SwitchableControl:
    """Normal control with a strategy per signal.

    Parameters
    ----------
    build
        Makes the (resumable) controller of a strategy name; called once per strategy, the
        first time a signal is assigned to it.
    strategies
        The strategy names an operator may choose.
    signal_ids
        Every signal it drives.
    default
        The strategy every signal starts with.
    """

    name = "switchable"

    def __init__(
        self,
        build: ControllerFactory,
        strategies: Sequence[str],
        signal_ids: Sequence[str],
        default: str,
    ) -> None:
        self._build = build
        self.strategies = tuple(strategies)
        self._check(default)
        self._controllers: dict[str, Resumable] = {}
        self._assigned: dict[str, str] = dict.fromkeys(signal_ids, default)
        self._controller(default)
        self._subsets: dict[str, frozenset[str]] | None = None

    # -- the operator's side -----------------------------------------------------------------
    def controllers(self) -> Mapping[str, Resumable]:
        """The controllers built so far, by strategy name (read-only view)."""
        return MappingProxyType(self._controllers)

    def strategy_of(self, signal_id: str) -> str:
        """The strategy running ``signal_id`` now."""
        try:
            return self._assigned[signal_id]
        except KeyError:
            raise UnknownSignalError(signal_id, self._assigned, where="normal control") from None

    @property
    def assignment(self) -> Mapping[str, str]:
        """Strategy per signal id (a copy)."""
        return dict(self._assigned)

    def switch(self, signal_id: str, strategy: str, now_s: float) -> bool:
        """Run ``signal_id`` under ``strategy`` from now on.

        The new controller takes the signal in the phase the old one serves, and moves it on
        only through guard-checked steps. Returns whether anything changed.

        Raises
        ------
        UnknownSignalError
            ``signal_id`` is not driven here.
        ConfigError
            ``strategy`` is not one of :attr:`strategies`.
        """
        old = self.strategy_of(signal_id)
        self._check(strategy)
        if old == strategy:
            return False
        phase = self._controllers[old].phase_in_service(signal_id)
        new = self._controller(strategy)
        new.resume(signal_id, now_s, phase if phase is not None else 0)
        self._assigned[signal_id] = strategy
        self._subsets = None
        return True

    # -- the Controller / Resumable protocol ---------------------------------------------------
    @property
    def uses_traffic_state(self) -> bool:
        return any(c.uses_traffic_state for c in self._in_use().values())

    @property
    def traffic_fields(self) -> tuple[str, ...] | None:
        fields: set[str] = set()
        for c in self._in_use().values():
            if not c.uses_traffic_state:
                continue
            own = getattr(c, "traffic_fields", None)
            if own is None:
                return None
            fields.update(own)
        return tuple(f for f in (*TRAFFIC_FIELDS, PERSON_FIELD) if f in fields)

    def traffic_due(self, now_s: float) -> bool:
        for c in self._in_use().values():
            if not c.uses_traffic_state:
                continue
            due = getattr(c, "traffic_due", None)
            if due is None or due(now_s):
                return True
        return False

    def propose(
        self, now_s: float, timers: Mapping[str, SignalTimers], traffic: TrafficState
    ) -> list[SignalCommand]:
        """Each strategy in use proposes for its own signals only."""
        subsets = self._in_use_subsets()
        if len(subsets) == 1:  # one strategy for all: no per-tick filtering
            (name,) = subsets
            return list(self._controllers[name].propose(now_s, timers, traffic))
        out: list[SignalCommand] = []
        for name, sids in subsets.items():
            own = {sid: t for sid, t in timers.items() if sid in sids}
            out += self._controllers[name].propose(now_s, own, traffic)
        return out

    def resume(self, signal_id: str, now_s: float, phase_index: int) -> None:
        self._owner(signal_id).resume(signal_id, now_s, phase_index)

    def next_green_s(self, signal_id: str, links: frozenset[int], now_s: float) -> float | None:
        return self._owner(signal_id).next_green_s(signal_id, links, now_s)

    def phase_in_service(self, signal_id: str) -> int | None:
        return self._owner(signal_id).phase_in_service(signal_id)

    # -- internals ---------------------------------------------------------------------------
    def _check(self, strategy: str) -> None:
        if strategy not in self.strategies:
            raise ConfigError(
                f"unknown normal strategy {strategy!r}; choose one of {', '.join(self.strategies)}"
            )

    def _controller(self, strategy: str) -> Resumable:
        c = self._controllers.get(strategy)
        if c is None:
            built = self._build(strategy)
            if not isinstance(built, Resumable):
                raise ConfigError(f"controller {strategy!r} cannot take over a running signal")
            c = self._controllers[strategy] = built
        return c

    def _owner(self, signal_id: str) -> Resumable:
        return self._controllers[self.strategy_of(signal_id)]

    def _in_use_subsets(self) -> dict[str, frozenset[str]]:
        if self._subsets is None:
            groups: dict[str, set[str]] = {}
            for sid, name in self._assigned.items():
                groups.setdefault(name, set()).add(sid)
            self._subsets = {k: frozenset(v) for k, v in groups.items()}
        return self._subsets

    def _in_use(self) -> dict[str, Resumable]:
        return {name: self._controllers[name] for name in self._in_use_subsets()}
