"""One measured run with priority trips (or the reference run without them), in one process.

The harness plays dispatcher: at each trip's departure time it declares the lead vehicle to the
twin's priority feed and hands a request with the trip's route to the strategy's desk. Every
tick it records the trace of each trip. After the run it reads SUMO's outputs.
A run is a picklable :class:`RunJob` in, a picklable :class:`RunMeasures` out, so runs go to
a process pool (libsumo runs one simulation per process).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from clearway.bootstrap import PRIORITY_STRATEGIES, WiredRun, open_twin_run
from clearway.control.priority.hold_cost import total_veh_h
from clearway.control.priority.request import (
    Convoy,
    PositionUpdate,
    PriorityRequestSpec,
    RequestState,
    Role,
)
from clearway.control.priority.reroute import ReroutePolicy
from clearway.errors import ClearwayError, SimulationError
from clearway.evaluation.alert_drivers import AlertDrivers
from clearway.evaluation.metrics import (
    PersonStats,
    Throughput,
    TimeLossDistribution,
    others_distribution,
    read_personinfo,
)
from clearway.evaluation.priority_metrics import (
    OthersDelay,
    TripOutcome,
    read_vehicle_trips,
    trip_outcome,
)
from clearway.evaluation.trace import Trace, TraceRecorder
from clearway.network import Network, load_network
from clearway.network.routing import Route
from clearway.sim.avl import AvlFeed, AvlSettings
from clearway.sim.edge_data import read_edge_time_loss_s, write_edge_data_additional
from clearway.sim.priority_trips import PriorityTrip
from clearway.sim.scenario import Scenario
from clearway.sim.twin import SumoTwin

#: The trace stops this long after the trip's last vehicle left the network (s).
TRACE_TAIL_S = 30.0
#: Lease of the requests the harness submits (s): long enough that a vehicle held up at its
#: insertion point does not lose its request before it is on the road.
REQUEST_LEASE_S = 120.0
#: The request reaches clearway this long before the vehicle leaves (s): dispatch knows the
#: trip before the ambulance rolls out. Every strategy gets it at the same time; only the
#: corridor plans before the vehicle is on the road (``local`` acts on the vehicle itself).
DISPATCH_LEAD_S = 30.0


@dataclass(frozen=True)
class RunJob:
    """One run to do.

    Attributes
    ----------
    label
        ``"reference"`` or the strategy name (reports).
    scenario
        What SUMO runs: demand (+ the trips' vehicles unless this is the reference).
    strategy
        Signal strategy (:data:`clearway.bootstrap.STRATEGIES`).
    trips, routes
        The priority trips to dispatch and their routes (empty for the reference).
    cross_edges
        Cross-street edges measured with edgeData (may be empty).
    out_dir
        Where this run's outputs go.
    duration_s
        Simulated time (s).
    backend, timing_file, local_trigger_m, tick_s, normal
        Passed to :func:`clearway.bootstrap.open_twin_run` (``normal``: the controller
        priority strategies run between holds).
    avl
        The strategy hears of the priority vehicles through an emulated AVL unit
        (:class:`~clearway.sim.avl.AvlFeed`, seeded with the scenario's seed) instead of the
        twin's exact positions; ``None``: exact. Traces and metrics always use the truth.
    dispatch_lead_s
        The request reaches the strategy this long before its vehicle leaves (s; a replay
        of a service request uses 0: the service heard of it as the vehicle left).
    alert_share
        Share of the other drivers who follow the public alert feed (0-1;
        :mod:`clearway.evaluation.alert_drivers`): routed around the edges it announces.
    """

    label: str
    scenario: Scenario
    strategy: str
    trips: tuple[PriorityTrip, ...]
    routes: tuple[Route, ...]
    cross_edges: tuple[str, ...]
    out_dir: Path
    duration_s: float
    backend: str = "libsumo"
    timing_file: Path | None = None
    local_trigger_m: float = 150.0
    tick_s: float = 1.0
    normal: str = "fixed-time"
    avl: AvlSettings | None = None
    reroute: bool = False
    dispatch_lead_s: float = DISPATCH_LEAD_S
    alert_share: float = 0.0


@dataclass(frozen=True)
class RunMeasures:
    """What one run measured (raw; the evaluation pairs it with its reference).

    Attributes
    ----------
    label, strategy, seed
        Which run.
    trips
        Outcome per priority trip, in the job's order.
    others
        Delay of all non-priority vehicles.
    cross_time_loss_s
        Summed time loss on the cross-street edges (s); 0 without cross edges.
    recoveries_s
        Time to recover of every finished junction recovery (s).
    safety_violations, guard_rejections, teleports
        Counts.
    requests_completed
        Requests the desk closed as completed (count).
    wall_s
        Wall-clock time of the run (s).
    traces
        Per trip, its tick-by-tick trace.
    others_time_loss
        Time-loss distribution of the non-priority vehicles (``None``: not measured).
    others_throughput
        Arrivals of the non-priority vehicles per interval (``None``: not measured).
    avl_reports
        Reports the AVL emulator took and lost (``{"sampled": n, "dropped": n}``); ``None``
        with the exact feed.
    reroutes
        Per trip id, how many times its lead was given a new route on its way.
    alert_followers, alert_reroutes
        Drivers who follow the public alert feed (count), and the re-routes the feed gave
        them on the road (count); 0 without ``alert_share``.
    pedestrians
        Count and mean time loss of the people who finished a walk (``None``: not read).
    others_delay_estimate_veh_h
        The holds' cost to everyone else as estimated from detector queues at the held
        junctions (:mod:`~clearway.control.priority.hold_cost`), summed over the finished
        recoveries (veh·h); ``None`` when nothing was estimated.
    """

    label: str
    strategy: str
    seed: int
    trips: tuple[TripOutcome, ...]
    others: OthersDelay
    cross_time_loss_s: float
    recoveries_s: tuple[float, ...]
    safety_violations: int
    guard_rejections: int
    teleports: int
    requests_completed: int
    wall_s: float
    traces: tuple[Trace, ...]
    others_time_loss: TimeLossDistribution | None = None
    others_throughput: Throughput | None = None
    avl_reports: dict[str, int] | None = None
    reroutes: dict[str, int] = field(default_factory=dict)
    alert_followers: int = 0
    alert_reroutes: int = 0
    pedestrians: PersonStats | None = None
    others_delay_estimate_veh_h: float | None = None


_NETS: dict[Path, Network] = {}


def run_job(job: RunJob) -> RunMeasures:
    """Run ``job`` in this process and measure it.

    Raises
    ------
    SimulationError
        If anything fails; the message names the run (errors cross process boundaries as
        plain messages, so they always unpickle).
    """
    try:
        return _run(job)
    except ClearwayError as exc:
        raise SimulationError(f"{job.label} run, seed {job.scenario.seed}: {exc}") from None
    except Exception as exc:  # a bug: keep the type in the message, the traceback stays here
        raise SimulationError(
            f"{job.label} run, seed {job.scenario.seed} failed: {type(exc).__name__}: {exc}"
        ) from None


def _network(path: Path) -> Network:
    # A worker runs many jobs on one network: read it once per process.
    if path not in _NETS:
        _NETS[path] = load_network(path)
    return _NETS[path]


def _run(job: RunJob) -> RunMeasures:
    out = job.out_dir
    out.mkdir(parents=True, exist_ok=True)
    scenario = job.scenario
    edge_out = out / "cross-edges.xml"
    if job.cross_edges:
        add = write_edge_data_additional(out / "cross-edges.add.xml", job.cross_edges, edge_out)
        scenario = replace(scenario, additional_files=(*scenario.additional_files, add))
    net = _network(Path(scenario.net_file))
    tripinfo = out / "tripinfo.xml"
    avl_feeds: list[AvlFeed] = []

    def avl_feed(twin: SumoTwin) -> AvlFeed:
        assert job.avl is not None
        avl_feeds.append(AvlFeed(twin, twin, net, job.avl, seed=scenario.seed))
        return avl_feeds[-1]

    t0 = time.perf_counter()
    with open_twin_run(
        scenario,
        strategy=job.strategy,
        backend=job.backend,
        timing_file=job.timing_file,
        tripinfo_path=tripinfo,
        tick_s=job.tick_s,
        net=net,
        local_trigger_m=job.local_trigger_m,
        normal=job.normal,
        feed_wrapper=avl_feed if job.avl is not None else None,
    ) as wired:
        book = getattr(wired.priority, "book", None)
        if job.reroute and book is not None:
            book.reroute = ReroutePolicy()
        dispatcher = _Dispatcher(job, wired, net)
        if job.alert_share > 0:
            dispatcher.alerts = AlertDrivers(
                wired.twin, net, scenario.route_files, job.alert_share, scenario.seed,
                exclude=[v for t in job.trips for v in t.vehicle_ids],
            )  # fmt: skip
        wired.loop.run(job.duration_s, on_tick=dispatcher.on_tick)
        finished = wired.priority.recoveries if wired.priority is not None else ()
        recoveries = tuple(r.time_to_recover_s for r in finished if r.time_to_recover_s is not None)
        estimate = total_veh_h(r.others_delay_veh_h for r in finished)
        completed = 0
        if wired.priority is not None:
            completed = sum(
                1 for r in wired.priority.requests.values() if r.state is RequestState.COMPLETED
            )
        violations = wired.monitor.violation_count
        rejections = wired.loop.stats.rejected
        teleports = wired.twin.teleports
        order = {t.trip_id: i for i, t in enumerate(job.trips)}
        traces = tuple(
            sorted((rec.result() for rec in dispatcher.recorders), key=lambda tr: order[tr.trip_id])
        )
    wall = time.perf_counter() - t0
    ids = [v for t in job.trips for v in t.vehicle_ids]
    vehicles, others = read_vehicle_trips(tripinfo, ids)
    # A second pass over the file: the per-vehicle reader is shared with the free-flow runs,
    # which need none of this, and the pass costs little next to the simulation.
    distribution, throughput = others_distribution(
        tripinfo, ids, job.duration_s, begin_s=scenario.begin_s
    )
    cross = sum(read_edge_time_loss_s(edge_out).values()) if job.cross_edges else 0.0
    return RunMeasures(
        label=job.label,
        strategy=job.strategy,
        seed=job.scenario.seed,
        trips=tuple(trip_outcome(t, vehicles) for t in job.trips),
        others=others,
        cross_time_loss_s=cross,
        recoveries_s=recoveries,
        safety_violations=violations,
        guard_rejections=rejections,
        teleports=teleports,
        requests_completed=completed,
        wall_s=wall,
        traces=traces,
        others_time_loss=distribution,
        others_throughput=throughput,
        avl_reports=(
            {"sampled": avl_feeds[0].sampled, "dropped": avl_feeds[0].dropped}
            if avl_feeds else None
        ),
        reroutes=dispatcher.reroutes,
        alert_followers=dispatcher.alerts.chosen if dispatcher.alerts else 0,
        alert_reroutes=dispatcher.alerts.followers.reroutes if dispatcher.alerts else 0,
        pedestrians=read_personinfo(tripinfo),
        others_delay_estimate_veh_h=estimate,
    )


class _Dispatcher:
    """Hands each trip to the desk at its departure and records its trace every tick."""

    def __init__(self, job: RunJob, wired: WiredRun, net: Network) -> None:
        self.job = job
        self.wired = wired
        self.pending = sorted(
            zip(job.trips, job.routes, strict=True), key=lambda tr: tr[0].depart_s
        )
        self.recorders: list[TraceRecorder] = []
        self._active: list[tuple[TraceRecorder, float | None]] = []
        self._net = net
        #: Per lead vehicle: its request id, and the speed its driver was last advised.
        self._requests: dict[str, str] = {}
        self._advised: dict[str, float | None] = {}
        #: Per lead vehicle: its trip and the route its vehicles were last set to drive.
        self._trips: dict[str, PriorityTrip] = {}
        self._driven: dict[str, tuple[str, ...]] = {}
        self._full: dict[str, tuple[str, ...]] = {}
        #: Per trip id, how many times its vehicles were given a new route.
        self.reroutes: dict[str, int] = {}
        #: Drivers who follow the public alert feed (``None``: nobody does).
        self.alerts: AlertDrivers | None = None

    def on_tick(self, now_s: float) -> None:
        twin = self.wired.twin
        lead_s = self.job.dispatch_lead_s
        while self.pending and self.pending[0][0].depart_s - lead_s <= now_s + 1e-9:
            trip, route = self.pending.pop(0)
            self._dispatch(trip, route, now_s)
        if self.alerts is not None:
            self.alerts.on_tick(now_s, self.wired.priority)
        if not self._active:
            return
        self._follow_advice()
        positions = twin.priority_positions()
        self._follow_route(positions)
        states = twin.read_signal_states()
        still = []
        for rec, gone_s in self._active:
            rec.record(now_s, positions, states)
            on_net = rec.lead_id in positions or rec.tail_id in positions
            if on_net or not rec.seen:
                gone_s = None
            elif gone_s is None:
                gone_s = now_s
            if gone_s is not None and now_s - gone_s >= TRACE_TAIL_S:
                continue  # finished: stop recording
            still.append((rec, gone_s))
        self._active = still

    def _dispatch(self, trip: PriorityTrip, route: Route, now_s: float) -> None:
        twin = self.wired.twin
        twin.track_priority_vehicle(trip.lead_id)
        if trip.tail_id != trip.lead_id:
            # Only for the trace: the desk follows requester ids (the lead) alone.
            twin.track_priority_vehicle(trip.tail_id)
        rec = TraceRecorder(self._net, route, trip.trip_id, trip.lead_id, trip.tail_id)
        self.recorders.append(rec)
        self._active.append((rec, None))
        desk = self.wired.priority
        if desk is None or self.job.strategy not in PRIORITY_STRATEGIES:
            return
        convoy = None
        if trip.is_convoy:
            cruise = route.length_m / route.travel_time_s if route.travel_time_s > 0 else 13.89
            convoy = Convoy(
                vehicle_count=trip.vehicle_count,
                length_m=trip.platoon_length_m(cruise),
                cruise_speed_mps=min(cruise, 40.0),
            )
        spec = PriorityRequestSpec(
            requester_id=trip.lead_id,
            role=Role(trip.role),
            importance=trip.importance,
            incident_id=f"incident-{trip.trip_id}",
            route=trip.edges,
            convoy=convoy,
            lease_s=REQUEST_LEASE_S,
            depart_s=trip.depart_s,
        )
        req = desk.submit(spec, now_s)
        self._requests[trip.lead_id] = req.request_id
        self._trips[trip.lead_id] = trip
        self._driven[trip.lead_id] = req.route

    def _follow_advice(self) -> None:
        """The priority vehicles' drivers follow clearway's arrival advice (slow down to meet
        a green that starts after another emergency vehicle has passed)."""
        desk = self.wired.priority
        if desk is None:
            return
        for lead_id, rid in self._requests.items():
            advice = desk.requests[rid].advice
            speed = advice.speed_mps if advice is not None else None
            if self._advised.get(lead_id) != speed:
                self.wired.twin.advise_speed(lead_id, speed)
                self._advised[lead_id] = speed

    def _follow_route(self, positions: Mapping[str, PositionUpdate]) -> None:
        """The priority vehicles' drivers take the new route clearway gives them on their way
        (a convoy's followers too: their old route up to where the new one starts, then it)."""
        desk = self.wired.priority
        if desk is None or not self.job.reroute:
            return
        for lead_id, rid in self._requests.items():
            req = desk.requests[rid]
            old = self._driven[lead_id]
            if req.state.is_final or req.route == old or not req.route:
                continue
            if lead_id not in positions:
                continue  # not on the road yet: it leaves on its route as planned
            trip = self._trips[lead_id]
            self._driven[lead_id] = req.route
            self.wired.twin.set_route(lead_id, req.route)
            # The followers drive the whole trip's route so far up to where the new one starts.
            full = self._full.get(lead_id, trip.edges)
            start = req.route[0]
            self._full[lead_id] = (*full[: full.index(start)], *req.route) if start in full else req.route
            for vid in trip.vehicle_ids[1:]:
                with contextlib.suppress(SimulationError):
                    # A follower not on the network yet (still to be inserted) keeps its
                    # route; one on it follows the lead.
                    self.wired.twin.set_route(vid, self._full[lead_id])
            self.reroutes[trip.trip_id] = self.reroutes.get(trip.trip_id, 0) + 1
