"""When a junction on a priority vehicle's route starts serving it: the three strategies.

* ``none``: never (the signals ignore the vehicle; the baseline of doing nothing).
* ``local``: each junction alone, once the vehicle is within a fixed distance of its stop
  line — how infrared and GPS emitters work today (default 150 m).
* ``corridor``: every junction along the route, just in time — at the latest moment that still
  lets the guard bring the green and the queue in front of the vehicle drain before it arrives
  (:mod:`clearway.control.priority.corridor`), and where a queue is flushed ahead of it, early
  enough downstream that the flushed cars keep moving.

All three share the same desk, arbitration, hold and recovery; only the trigger differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clearway.control.priority.corridor import JunctionPlan, flush_downstream
from clearway.signals.model import GREEN_CHARS, Intersection

#: Longest a local emitter is heard, and farthest ahead the corridor plans (s).
CORRIDOR_HORIZON_S = 120.0


def regain_s(model: Intersection, links: Iterable[int] | None = None) -> float:
    """Time to get ``links`` back once their green has ended (s): their yellow and clearance,
    then the shortest green a conflicting link must get, its yellow and its clearance — the
    slowest such conflicting link. Without ``links``, for the slowest link of the junction.
    Used to decide when a green the vehicle needs must no longer be allowed to end.
    """
    own = range(len(model.timings)) if links is None else tuple(links)
    if not own:
        return 0.0
    t = model.timings
    out = max(t[i].yellow_s + t[i].clearance_s for i in own)
    foes = {j for i in own for j in model.foes_of(i) if j not in own}
    return out + max((t[j].min_green_s + t[j].yellow_s + t[j].clearance_s for j in foes), default=0.0)


@dataclass(frozen=True)
class NoPriority:
    """The signals ignore priority vehicles (requests are still followed and reported)."""

    name: str = "none"
    uses_traffic_state: bool = False
    fill_hold: bool = False
    advises_arrival: bool = False
    skips_empty_phases: bool = False
    hands_back_on_green: bool = False
    phase_shaped_hold: bool = False
    plans_before_departure: bool = False
    whole_approach: bool = True
    margin_s: float = 0.0
    horizon_s: float = 0.0
    max_distance_m: float = 0.0

    def select(self, plans: Sequence[JunctionPlan]) -> list[JunctionPlan]:
        return []

    def wants(
        self,
        plan: JunctionPlan,
        model: Intersection,
        shown: str,
        upcoming: str,
        now_s: float,
        scheduled_green_s: float | None = None,
    ) -> bool:
        return False


@dataclass(frozen=True)
class LocalPreemption:
    """A junction serves the vehicle once it is within ``trigger_m`` of the stop line (m)."""

    trigger_m: float = 150.0
    name: str = "local"
    uses_traffic_state: bool = False
    #: An emitter's dwell shows the approach it heard the vehicle on, nothing more.
    fill_hold: bool = False
    #: Emitters know nothing of each other: a vehicle that loses a junction stops there.
    advises_arrival: bool = False
    #: Its controller gives every cut phase its turn, waited for or not (it reads no queues).
    skips_empty_phases: bool = False
    #: Nor does it read the program's timetable before handing the signal back.
    hands_back_on_green: bool = False
    phase_shaped_hold: bool = False
    #: An emitter acts on the vehicle itself, not on a dispatch ...
    plans_before_departure: bool = False
    #: ... and does not tell where it turns: the junction serves its whole approach.
    whole_approach: bool = True
    margin_s: float = 0.0
    horizon_s: float = CORRIDOR_HORIZON_S

    def __post_init__(self) -> None:
        if not self.trigger_m > 0:
            raise ValueError(f"trigger_m must be positive, got {self.trigger_m}")

    @property
    def max_distance_m(self) -> float:
        return self.trigger_m

    def select(self, plans: Sequence[JunctionPlan]) -> list[JunctionPlan]:
        return list(plans)

    def wants(
        self,
        plan: JunctionPlan,
        model: Intersection,
        shown: str,
        upcoming: str,
        now_s: float,
        scheduled_green_s: float | None = None,
    ) -> bool:
        return plan.distance_m <= self.trigger_m


@dataclass(frozen=True)
class CorridorPreemption:
    """Every junction on the route serves the vehicle from its planned green start.

    Parameters
    ----------
    margin_s
        Head start on the planned green start, for the tick and for ETA error (s).
    horizon_s
        Junctions farther ahead in time are not planned yet (s).
    """

    margin_s: float = 1.0
    horizon_s: float = CORRIDOR_HORIZON_S
    name: str = "corridor"
    uses_traffic_state: bool = True
    #: A hold keeps every movement moving that never meets the vehicle's path
    #: (:func:`~clearway.control.priority.hold_state.fill_compatible`).
    fill_hold: bool = True
    #: A vehicle that must let another through first is told when to arrive
    #: (:mod:`~clearway.control.priority.advice`).
    advises_arrival: bool = True
    #: After a hold, a cut phase nobody waits for (detectors: no queue) is passed over
    #: (:func:`~clearway.control.priority.recovery.with_someone_waiting`).
    skips_empty_phases: bool = True
    #: After its recovery the signal is handed back only while the program's timetable shows
    #: a green phase, never inside one of its change intervals
    #: (:mod:`~clearway.control.priority.schedule`).
    hands_back_on_green: bool = True
    #: A hold shaped after the program phase serving the vehicle
    #: (:func:`~clearway.control.priority.hold_state.phase_hold_state`): the opposite through
    #: keeps its green, the own lanes' turns stay permissive. Off: it cost others less on the
    #: grids, but a car turning across that green waits in front of a convoy (convoy seed 1:
    #: 0 -> 1 stop; kept to the claim's state for its queued lanes: seed 2, 1 -> 3 stops).
    phase_shaped_hold: bool = False
    plans_before_departure: bool = True
    whole_approach: bool = False
    max_distance_m: float = float("inf")

    def select(self, plans: Sequence[JunctionPlan]) -> list[JunctionPlan]:
        return flush_downstream(plans)

    def wants(
        self,
        plan: JunctionPlan,
        model: Intersection,
        shown: str,
        upcoming: str,
        now_s: float,
        scheduled_green_s: float | None = None,
    ) -> bool:
        """Whether the junction must start serving the vehicle now.

        ``upcoming`` is what the normal controller would show next. A green the vehicle needs
        is left alone while the normal controller keeps it; when it is about to end, it is
        held if there would be no time to serve the other phases and bring it back before
        the vehicle arrives, and otherwise let go (and brought back just in time). Under an
        adaptive controller, a green that conflicts with the vehicle is not let start if it
        would leave no time for the vehicle's green after its minimum. A red one
        is left alone too while the normal controller's own schedule
        (``scheduled_green_s``, s) turns it green by the time the queue must start moving.
        """
        # Its own movement, and the other ways of the one lane it must use: a car in front of
        # it going one of those waits at that way's red.
        needed = plan.core | plan.lane_bound
        if plan.core and all(shown[i] in GREEN_CHARS for i in needed):
            ending = any(upcoming[i] not in GREEN_CHARS for i in needed)
            return ending and now_s >= plan.green_start_s - regain_s(model, needed) - self.margin_s
        starting = [i for i, c in enumerate(upcoming) if c in GREEN_CHARS and shown[i] not in GREEN_CHARS]
        if scheduled_green_s is None and any(
            model.conflicts(i, j) for i in starting for j in plan.core
        ):
            # An adaptive controller (no schedule to read) is about to start a green that
            # conflicts with the vehicle: once started it must run its minimum green, so it is
            # blocked if there would be no time left to bring the vehicle's green after it.
            return now_s >= plan.green_start_s - regain_s(model, plan.core) - self.margin_s
        if now_s < plan.green_start_s - self.margin_s:
            return False
        # The normal program turns it green early enough by itself: nothing to do (yet).
        needed_s = plan.green_start_s + plan.transition_s
        if plan.queue_m > 0.0:
            # A queue to clear: detector queues are lower bounds (a queue longer than the
            # detector, cars still joining it), so the schedule is not trusted with it.
            return True
        return scheduled_green_s is None or scheduled_green_s > needed_s


PriorityPolicy = NoPriority | LocalPreemption | CorridorPreemption
