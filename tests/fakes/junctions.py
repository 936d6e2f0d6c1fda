"""Hand-made intersection models and fake ports, for unit tests without SUMO."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clearway.network.model import Phase, SignalProgram
from clearway.signals.model import Intersection, LinkTimings, Relation
from clearway.signals.safety.commands import ApprovedCommand
from clearway.state.traffic import TrafficState

F, H, Y = Relation.FOE, Relation.HARD, Relation.YIELDS


def four_leg(
    min_green_s: float = 5.0, yellow_s: float = 3.5, clearance_s: float = 2.0
) -> Intersection:
    """A cross junction with 4 links.

    0: north-south through (G in phase A)   1: east-west through (G in phase B)
    2: south->west left, permissive, yields to 0 (g in phase A)
    3: a right turn with no foes (G always).
    """
    rel = [[0] * 4 for _ in range(4)]

    def both(i: int, j: int, ij: int, ji: int) -> None:
        rel[i][j], rel[j][i] = int(ij), int(ji)

    both(0, 1, F | H, F | H)
    both(1, 2, F | H, F | H)
    both(0, 2, F, F | Y)  # 2 yields to 0: may run permissive g beside it
    t = LinkTimings(min_green_s, yellow_s, clearance_s)
    return Intersection("J", ("J",), tuple(tuple(r) for r in rel), (t,) * 4, (False,) * 4)


def four_leg_program() -> SignalProgram:
    """A two-phase program for :func:`four_leg` with no all-red (as netgenerate writes them)."""
    return SignalProgram(
        "0",
        "static",
        0.0,
        (
            Phase(20.0, "GrgG"),
            Phase(3.0, "yryG"),
            Phase(20.0, "rGrG"),
            Phase(3.0, "ryrG"),
        ),
    )


class FakeSignals:
    """A SignalPort, StateSource and Clock in one: shows exactly what it was told to."""

    def __init__(self, states: Mapping[str, str], step_s: float = 1.0) -> None:
        self.states = dict(states)
        self.time_s = 0.0
        self.step_s = step_s
        self.applied: list[ApprovedCommand] = []
        self.history: list[tuple[float, dict[str, str]]] = [(0.0, dict(self.states))]
        #: Per signal, (time applied, state) of every change, starting with the initial state.
        self.shown: dict[str, list[tuple[float, str]]] = {
            s: [(0.0, st)] for s, st in states.items()
        }

    def signal_ids(self) -> Sequence[str]:
        return list(self.states)

    def read_signal_states(self) -> Mapping[str, str]:
        return dict(self.states)

    def apply(self, command: ApprovedCommand) -> None:
        if not isinstance(command, ApprovedCommand):
            raise TypeError(f"refusing {command!r}: not an ApprovedCommand")
        assert command.time_s == self.time_s, "applied at another time than the clock's"
        self.applied.append(command)
        if command.state != self.states[command.signal_id]:
            self.shown[command.signal_id].append((self.time_s, command.state))
        self.states[command.signal_id] = command.state

    def read_traffic_state(self, fields=None) -> TrafficState:
        return TrafficState.empty(self.time_s)

    def now_s(self) -> float:
        return self.time_s

    def advance(self, dt_s: float) -> None:
        steps = max(1, round(dt_s / self.step_s))
        for _ in range(steps):
            self.time_s += self.step_s
            self.history.append((self.time_s, dict(self.states)))
