"""Priority on top of normal control: holds for priority vehicles, arbitration, recovery.

Every tick the controller takes in the vehicles' positions, re-plans each live request's
junctions from fresh ETAs, queues and signal states, lets its policy (none / local /
corridor, :mod:`~clearway.control.priority.policies`) say which junctions must serve a vehicle
now, arbitrates per junction, and proposes for each held signal the step toward its priority
state. A hold ends once the vehicle (a convoy's tail) has crossed, when its request ends
(completed, cancelled, expired), or after ``hold_max_s``; then the phases it cut are served
(:mod:`~clearway.control.priority.recovery`) and the normal controller takes the signal back.
Signals neither held nor recovering run the normal controller. Every command still passes
the safety guard in the control loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from clearway.control.base import Controller, Resumable
from clearway.control.priority.advice import ArrivalAdvice, advised, arrival_advice, slowed
from clearway.control.priority.arbitration import (
    Claim,
    arbitrate,
    priority_state,
    reported,
    settle,
)
from clearway.control.priority.corridor import JunctionPlan, plan_corridor, signal_of_junction
from clearway.control.priority.desk import BookDesk, RecoveryRecord
from clearway.control.priority.hold_cost import HoldCostMeter
from clearway.control.priority.hold_state import fill_compatible, phase_hold_state
from clearway.control.priority.policies import PriorityPolicy, regain_s
from clearway.control.priority.recovery import (
    Recovery,
    current_phase,
    cut_phases,
    link_queues_m,
    recovery_durations_s,
    with_someone_waiting,
)
from clearway.control.priority.registry import RequestBook
from clearway.control.priority.request import JunctionStatus
from clearway.control.priority.schedule import Timetable, entry_phase, foresee
from clearway.network.model import Network, SignalProgram
from clearway.ports import PriorityVehicleFeed
from clearway.signals.model import GREEN_CHARS, RED_CHARS, Intersection
from clearway.signals.programs import safe_phase_states
from clearway.signals.safety.commands import SignalCommand
from clearway.signals.timers import SignalTimers
from clearway.signals.transition import step_toward
from clearway.state.traffic import TrafficState


@dataclass
class Hold:
    """A signal held for priority: since when (s), the program phase it interrupted, the
    requests it serves, and the links it left red (owed a turn by the recovery)."""

    start_s: float
    interrupted: int
    requests: set[str] = field(default_factory=set)
    starved: set[int] = field(default_factory=set)
    #: The normal program's timetable as its controller foresaw it when the hold began
    #: (``None``: not read, or a controller without one).
    timetable: Timetable | None = None


class PreemptionController(BookDesk):
    """Normal control plus priority for emergency vehicles and convoys; also the desk.

    Parameters
    ----------
    normal
        The controller that runs the signals between holds; it must be :class:`Resumable`.
    net, models
        The network and the intersection model per signal id.
    programs
        Per signal the program whose phases recovery serves (the one ``normal`` runs).
    feed
        Positions of the priority vehicles.
    policy
        When a junction serves a vehicle.
    hold_max_s
        Longest a signal is held for one request; after that its cut phases are served
        before the request may hold it again (s).
    """

    def __init__(
        self,
        normal: Controller,
        net: Network,
        models: Mapping[str, Intersection],
        programs: Mapping[str, SignalProgram],
        feed: PriorityVehicleFeed,
        policy: PriorityPolicy,
        *,
        hold_max_s: float = 120.0,
    ) -> None:
        if not isinstance(normal, Resumable):
            raise TypeError(f"controller {normal.name!r} cannot resume a signal after a hold")
        self.normal = normal
        self.net = net
        self.models = dict(models)
        self.feed = feed
        self.policy = policy
        self.hold_max_s = hold_max_s
        self.name = policy.name
        self.book = RequestBook(net)
        self._junction_signals = signal_of_junction(net)
        self._phases = {
            sid: safe_phase_states(m, programs[sid]) for sid, m in self.models.items() if sid in programs
        }
        self._durations_s = {
            sid: tuple(p.duration_s for p in programs[sid].phases) for sid in self._phases
        }
        self._recovery_s = {
            sid: recovery_durations_s(self.models[sid], phases, programs[sid])
            for sid, phases in self._phases.items()
        }
        self._holds: dict[str, Hold] = {}
        #: Per recovering signal: its progress, the hold it follows, the phases that hold cut.
        self._recovering: dict[str, tuple[Recovery, Hold, tuple[int, ...]]] = {}
        self._hold_until: dict[tuple[str, str], float] = {}
        self._blocked: set[tuple[str, str]] = set()
        self._records: list[RecoveryRecord] = []
        self._last_claim: dict[tuple[str, str], tuple[Claim, frozenset[int]]] = {}
        self._granted_since: dict[tuple[str, str], float] = {}
        self._traffic: TrafficState | None = None
        self._hold_cost = HoldCostMeter(net, self.models)
        self._etas: dict[str, dict[str, float]] = {}
        self._advice: dict[str, ArrivalAdvice] = {}
        #: Per signal, how much later than a state set directly a change takes effect (s).
        self._latency_s: dict[str, float] = {}

    @property
    def held(self) -> frozenset[str]:
        """Signals held for a priority vehicle now."""
        return frozenset(self._holds)

    @property
    def recovering(self) -> frozenset[str]:
        """Signals whose hold ended and which still serve the phases it cut."""
        return frozenset(self._recovering)

    # -- the controller ---------------------------------------------------------------------
    # Properties, not attributes: the normal controller's needs change when an operator
    # switches a signal's strategy.
    @property
    def uses_traffic_state(self) -> bool:
        return self.policy.uses_traffic_state or self.normal.uses_traffic_state

    @property
    def traffic_fields(self) -> tuple[str, ...] | None:
        """The corridor reads queues and speeds; otherwise only what normal control needs."""
        if self.policy.uses_traffic_state:
            return None
        return getattr(self.normal, "traffic_fields", None)

    def traffic_due(self, now_s: float) -> bool:
        """Every tick for a policy that plans with detector data, else when the normal
        controller needs them."""
        if self.policy.uses_traffic_state:
            return True
        due = getattr(self.normal, "traffic_due", None)
        return due is None or bool(due(now_s))

    def propose(
        self, now_s: float, timers: Mapping[str, SignalTimers], traffic: TrafficState
    ) -> list[SignalCommand]:
        """Commands for this tick: priority holds, recoveries, and the normal controller."""
        # A policy that plans without detector data gets none, even when the loop has read
        # some for the normal controller (possibly only some aggregates: traffic_fields).
        use = self.policy.uses_traffic_state and bool(traffic.lane_ids)
        self._traffic = traffic if use else None
        if self._traffic is not None:
            # The queues now are those of the tick that just ran, under its holds.
            self._hold_cost.observe(self._traffic, [*self._holds, *self._recovering], now_s)
        self.book.observe(self.feed.priority_positions(), now_s, self._traffic)
        normal = self.normal.propose(now_s, timers, traffic)
        upcoming = {c.signal_id: c.state for c in normal}
        granted = self._arbitrate(self._wanted(now_s, timers, upcoming), now_s)
        self._update_holds(granted, now_s, timers)
        commands = [
            c for c in normal if c.signal_id not in self._holds and c.signal_id not in self._recovering
        ]
        for sid, claims in granted.items():
            t = timers[sid]
            links = frozenset().union(*(c.links for c, _ in claims))
            core = frozenset().union(*(core for _, core in claims))
            target = self._target_state(sid, links, t.state, core)
            self._command(commands, sid, t, target, now_s)
        for sid in list(self._recovering):
            self._recover(commands, sid, timers[sid], now_s)
        return commands

    # -- internals --------------------------------------------------------------------------
    def _wanted(
        self, now_s: float, timers: Mapping[str, SignalTimers], upcoming: Mapping[str, str]
    ) -> dict[str, list[tuple[JunctionPlan, bool]]]:
        """Per signal, the plans of live requests there and whether the policy wants them now
        (``upcoming``: the normal controller's next state per signal it would change)."""
        out: dict[str, list[tuple[JunctionPlan, bool]]] = {}
        ahead = now_s if self.policy.plans_before_departure else None
        self._etas = {}
        planned: dict[str, list[JunctionPlan]] = {}
        for tracked in self.book.live(planned_at_s=ahead):
            req = tracked.request
            convoy = req.spec.convoy
            # An AVL report is known to its accuracy (fused with the fixes before it, by the
            # book); a position from the twin is exact.
            accuracy = tracked.accuracy_m
            plans = plan_corridor(
                self.net, self.models, req.route, request_id=req.request_id,
                importance=req.spec.importance, edge_id=tracked.edge_id,
                offset_m=tracked.offset_m, speed_mps=tracked.speed_mps, now_s=now_s,
                position_time_s=tracked.time_s, accuracy_m=accuracy,
                timers=timers, traffic=self._traffic,
                pass_time_s=convoy.pass_time_s if convoy is not None else 0.0,
                junction_signals=self._junction_signals, horizon_s=self.policy.horizon_s,
                max_distance_m=self.policy.max_distance_m,
                whole_approach=self.policy.whole_approach,
            )
            planned[req.request_id] = plans
            # Advice comes from the full-speed plans; holds follow the advised arrival.
            plans = slowed(plans, req.advice, now_s)
            self._etas[req.request_id] = {p.signal_id: p.eta_s for p in plans}
            for plan in self.policy.select(plans):
                key = (plan.signal_id, req.request_id)
                self._hold_until[key] = plan.hold_until_s
                hold = self._holds.get(plan.signal_id)
                # Once a signal serves a vehicle it keeps serving it until it has passed: a
                # hold that flickers with every ETA wobble would waste whole transitions.
                shown = timers[plan.signal_id].state
                scheduled = (
                    None if plan.signal_id in self._recovering
                    else self.normal.next_green_s(plan.signal_id, plan.core, now_s)
                )
                want = (hold is not None and req.request_id in hold.requests) or self.policy.wants(
                    plan, self.models[plan.signal_id], shown,
                    self._upcoming(plan.signal_id, shown, upcoming), now_s, scheduled,
                )
                out.setdefault(plan.signal_id, []).append((plan, want and key not in self._blocked))
        self._advice = (
            arrival_advice(planned, self.models, now_s, self._latency_s)
            if self.policy.advises_arrival else {}
        )
        return out

    def _arbitrate(
        self, wanted: Mapping[str, list[tuple[JunctionPlan, bool]]], now_s: float
    ) -> dict[str, list[tuple[Claim, frozenset[int]]]]:
        claims_at: dict[str, list[tuple[Claim, frozenset[int]]]] = {
            sid: [(p.claim, p.core) for p, want in items if want] for sid, items in wanted.items()
        }
        # Claims not due yet still count where they will be due before the ones that are due
        # would be done with the junction: a vehicle that would have to be cut off mid-green
        # for a more important one is better told to wait now.
        upcoming = {sid: self._due_soon(sid, items) for sid, items in wanted.items()}
        # A vehicle that has just crossed keeps its hold until its tail is through.
        for (sid, rid), until in list(self._hold_until.items()):
            hold = self._holds.get(sid)
            planned = any(p.claim.request_id == rid for p, _ in wanted.get(sid, ()))
            if planned:
                continue
            req = self.book.requests.get(rid)
            if hold is None or rid not in hold.requests or now_s >= until or req is None or req.state.is_final:
                del self._hold_until[(sid, rid)]
                continue
            last = self._last_claim.get((sid, rid))
            if last is not None:
                claims_at.setdefault(sid, []).append(last)
        self._last_claim = {}
        verdicts: list[tuple[str, Claim, frozenset[int], JunctionStatus]] = []
        for sid, claims in claims_at.items():
            if not claims:
                continue
            hold = self._holds.get(sid)
            incumbents = frozenset(hold.requests) if hold else frozenset()
            due = {c.request_id for c, _ in claims}
            ahead = [c for c in upcoming.get(sid, ()) if c.request_id not in due]
            verdict = arbitrate(
                self.models[sid], [c for c, _ in claims] + ahead, incumbents=incumbents
            )
            verdicts += [(sid, c, core, verdict[c.request_id]) for c, core in claims]
        granted, statuses = settle(verdicts)
        for sid, claims in granted.items():
            for claim, core in claims:
                self._last_claim[(sid, claim.request_id)] = (claim, core)
        self._report(statuses)
        return granted

    def _due_soon(self, sid: str, items: list[tuple[JunctionPlan, bool]]) -> list[Claim]:
        """Claims at ``sid`` not wanted yet whose green would have to start before the wanted
        ones are done with the junction (their hold end plus the time to switch back)."""
        due = [p for p, want in items if want]
        if not due:
            return []
        busy_until = max(p.hold_until_s for p in due) + regain_s(self.models[sid])
        margin = self.policy.margin_s
        return [p.claim for p, want in items if not want and p.green_start_s - margin <= busy_until]

    def _report(self, statuses: Mapping[str, Mapping[str, JunctionStatus]]) -> None:
        """Keep each request's per-junction SSM status current (:func:`reported`)."""
        held = {(sid, rid) for sid, hold in self._holds.items() for rid in hold.requests}
        for req in reported(
            self.book.requests.values(), self.book.signals_ahead, statuses, held,
            lingering=frozenset(self._hold_until),
        ):  # fmt: skip
            self.book.replace(req)
        for req in advised(self.book.requests.values(), self._advice):
            self.book.replace(req)

    def _update_holds(
        self,
        granted: Mapping[str, list[tuple[Claim, frozenset[int]]]],
        now_s: float,
        timers: Mapping[str, SignalTimers],
    ) -> None:
        for sid, claims in granted.items():
            hold = self._holds.get(sid)
            if hold is None:
                hold = self._begin_hold(sid, now_s, timers[sid].state)
            for claim, _ in claims:
                self._granted_since.setdefault((sid, claim.request_id), now_s)
            hold.requests |= {c.request_id for c, _ in claims}
            # A link is owed its turn if the hold left it red; one that was red while the
            # hold began and then served the vehicle has had its green.
            shown = timers[sid].state
            hold.starved |= {i for i, c in enumerate(shown) if c in RED_CHARS}
            hold.starved -= {i for i, c in enumerate(shown) if c in GREEN_CHARS}
            for claim, _ in claims:
                if now_s - self._granted_since[(sid, claim.request_id)] > self.hold_max_s:
                    self._blocked.add((sid, claim.request_id))
        for sid in [s for s in self._holds if s not in granted]:
            self._end_hold(sid, now_s)

    def _begin_hold(self, sid: str, now_s: float, shown: str) -> Hold:
        previous = self._recovering.pop(sid, None)
        phases = self._phases.get(sid, (shown,))
        if previous is not None:
            # Held again while recovering: the phases still owed stay owed.
            _, old, _ = previous
            hold = Hold(
                old.start_s, old.interrupted, set(old.requests), set(old.starved), old.timetable
            )
        else:
            k = self.normal.phase_in_service(sid)
            hold = Hold(now_s, current_phase(phases, shown) if k is None else k)
            if self.policy.hands_back_on_green and sid in self._durations_s:
                hold.timetable = foresee(self.normal, sid, phases, self._durations_s[sid], now_s)
        self._holds[sid] = hold
        return hold

    def _end_hold(self, sid: str, now_s: float) -> None:
        hold = self._holds.pop(sid)
        for rid in hold.requests:
            self._granted_since.pop((sid, rid), None)
        self._after_hold(sid, hold, now_s)

    def _after_hold(self, sid: str, hold: Hold, now_s: float) -> None:
        """What follows a hold: here, a recovery that serves the phases it cut short; a
        subclass whose controllers recover by themselves releases them instead."""
        phases = self._phases.get(sid)
        queue = cut_phases(phases, hold.interrupted, frozenset(hold.starved)) if phases else ()
        if self.policy.skips_empty_phases and self._traffic is not None and phases:
            queue = with_someone_waiting(
                phases, queue, frozenset(hold.starved), link_queues_m(self.net.signal_links(sid), self._traffic)
            )
        durations = self._recovery_s.get(sid, ())
        recovery = Recovery(queue, durations, now_s, targeted_since_s=now_s)
        self._recovering[sid] = (recovery, hold, queue)

    def _recover(self, commands: list[SignalCommand], sid: str, t: SignalTimers, now_s: float) -> None:
        rec, hold, served = self._recovering[sid]
        phases = self._phases.get(sid, ())
        rec = rec.advance(phases, t.state, now_s)
        if rec.done and hold.timetable is not None:
            # Hand back only while the timetable shows a green phase: resumed inside one of its
            # change intervals, the program would target a yellow it cannot reach from here.
            between = entry_phase(phases, hold.timetable, now_s)
            if between is not None:
                self._recovering[sid] = (rec, hold, served)
                self._command(commands, sid, t, phases[between], now_s)
                return
        if rec.done:
            del self._recovering[sid]
            self._blocked = {k for k in self._blocked if k[0] != sid}
            resume_at = ((served[-1] if served else hold.interrupted) + 1) % max(len(phases), 1)
            self.normal.resume(sid, now_s, resume_at)
            self._records.append(
                RecoveryRecord(
                    sid, tuple(sorted(hold.requests)), hold.start_s, rec.hold_end_s, now_s,
                    served, self._hold_cost.finish(sid),
                )  # fmt: skip
            )
            return
        self._recovering[sid] = (rec, hold, served)
        self._command(commands, sid, t, phases[rec.queue[0]], now_s)

    def _upcoming(self, sid: str, shown: str, upcoming: Mapping[str, str]) -> str:
        """What ``sid`` will show next under normal control (``upcoming``: the normal
        controller's next state per signal it changes); a subclass may know less."""
        return upcoming.get(sid, shown)

    def _target_state(
        self, sid: str, links: frozenset[int], current: str, core: frozenset[int]
    ) -> str:
        """The state that serves the claimed ``links`` (``core``: the vehicle's own movement)
        at ``sid``; a subclass for field controllers picks one their phases can show."""
        if self.policy.fill_hold and self.policy.phase_shaped_hold:
            phases = self._phases.get(sid, ())
            shaped = phase_hold_state(self.models[sid], phases, core, links)
            if shaped is not None:
                return fill_compatible(self.models[sid], shaped, phases)
        state = priority_state(self.models[sid], links, current, core=core)
        if self.policy.fill_hold:
            state = fill_compatible(self.models[sid], state, self._phases.get(sid, ()))
        return state

    def _step(self, sid: str, t: SignalTimers, target: str, now_s: float) -> str | None:
        """The next state on the way to ``target``; ``None`` for no command this tick."""
        nxt = step_toward(self.models[sid], t, target, now_s)
        return nxt if nxt != t.state else None

    def _command(
        self, commands: list[SignalCommand], sid: str, t: SignalTimers, target: str, now_s: float
    ) -> None:
        nxt = self._step(sid, t, target, now_s)
        if nxt is not None:
            commands.append(SignalCommand(sid, nxt, now_s, source=self.name))

