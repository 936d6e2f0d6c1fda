"""Scenarios for evaluating free passage: networks, seeded demand and priority trips.

Named scenarios (``clearway evaluate --scenario NAME``), each small enough that five seeds of
three strategies run in a few minutes on two cores:

``spillback``
    5x5 grid with 120 m blocks under the heavy load: queues fill whole blocks and reach
    the junction upstream (checked with SUMO's queue output, see
    :func:`clearway.evaluation.spillback.max_queue_fill`), so clearing the queue ahead of the
    ambulance matters. One ambulance west to east along row 1.
``crossing``
    5x5 grid, moderate load: an ambulance west to east and a police car south to north whose
    routes cross at junction C2, the police car due there 2 s before the ambulance.
``convoy``
    5x5 grid, moderate load: a convoy of 8 vehicles west to east along row 2.
``berlin``
    A real city: Berlin-Adlershof from OpenStreetMap (the eclipse-sumo wheel's DRT game net,
    15 signals) with seeded random demand; one ambulance through 10 of its signals.

One more, for re-routing on the way (:func:`detour_setup`; not in :data:`NAMED`, which the
strategy comparisons run):

``detour``
    5x5 grid, moderate load: an ambulance west to east along row 2; just after it is
    dispatched, an incident on D2E2, a block of its route ahead, slows that street to walking
    pace (a SUMO variable speed sign on both lanes), so going round it by a parallel row is
    clearly faster.

And one with people on foot (:data:`PEDESTRIANS`; not in :data:`NAMED` either):

``pedestrians``
    5x5 grid with sidewalks, a signalised crossing over every arm and seeded walkers
    (:mod:`clearway.sim.pedestrians`), moderate load: one ambulance west to east along row 2,
    through junctions where people are crossing.

Any ``grid:NxM[:load][:peds]`` or ``--net`` network can be evaluated with ``--priority`` trips too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from clearway.errors import ConfigError
from clearway.evaluation.evaluate import EvaluationPlan
from clearway.evaluation.trip_spec import TripRequest, plan_trips
from clearway.network import load_network
from clearway.network.loader import require_traffic_lights
from clearway.network.routing import build_routing_graph, fastest_route
from clearway.sim.files import file_stem
from clearway.sim.pedestrians import build_ped_grid, ped_grid_scenario
from clearway.sim.scenario import (
    Scenario,
    build_grid,
    check_demand_scale,
    grid_scenario,
    random_demand,
    user_scenario,
)
from clearway.sim.sumo_env import sumo_home

#: (seed, end_s) -> the base scenario of that seed (demand, detectors, SUMO seed).
ScenarioBuilder = Callable[[int, float], Scenario]

#: Priority vehicles leave after this much traffic time, so queues have formed (s).
WARM_UP_S = 300.0
#: Default simulated time of an evaluation run (s): warm-up, the trip, and recovery after it.
DEFAULT_DURATION_S = 900.0
#: Short blocks under the heavy load (600 veh/h per entry): measured with
#: :func:`~clearway.evaluation.spillback.max_queue_fill` (SUMO's own programs, no driver
#: noise), the longest queue on the route's approaches filled 89-98 % of its block in each of
#: seeds 1-5 — it reached the junction upstream. At 650 veh/h and more the grid gridlocks
#: (teleports) and paired runs stop being comparable.
SPILLBACK_BLOCK_M = 120.0
CONVOY_VEHICLES = 8
BERLIN_NET = Path("tools/game/DRT/osm.net.xml")
#: One trip every 2 s, as in the demo: at 1 trip/s the random demand jams (teleports) and
#: paired runs stop being comparable — others' extra delay of the same strategy then ranged
#: −2.1 … +3.0 veh·h over 5 seeds; at 2 s it ranges 0.3 … 0.7 with no teleport.
BERLIN_PERIOD_S = 2.0
#: Through 10 of the net's 15 signals, 1.9 km, 149 s at free flow.
BERLIN_TRIP = ("-23925119#0", "320741894#0")
#: The crossing scenario's police car reaches the shared junction this much earlier (s).
CROSSING_LEAD_S = 2.0

NAMED = ("spillback", "crossing", "convoy", "berlin")
#: The scenario with walkers (:func:`pedestrians_setup`).
PEDESTRIANS = "pedestrians"
#: Every scenario :func:`named_setup` builds: the benches' four, ``detour`` (re-routing) and
#: ``pedestrians``.
SCENARIOS = (*NAMED, "detour", PEDESTRIANS)
#: The detour scenario's incident: the street (the route's fifth block), when it starts (s;
#: the ambulance is dispatched 30 s before it leaves at WARM_UP_S, so its route is planned
#: through the street) and the speed traffic gets past it at (m/s; its 200 m then take
#: 100 s instead of 14 s).
DETOUR = "detour"
DETOUR_INCIDENT_EDGE = "D2E2"
DETOUR_INCIDENT_S = WARM_UP_S - 25.0
DETOUR_INCIDENT_SPEED_MPS = 2.0


@dataclass(frozen=True)
class PrioritySetup:
    """A scenario family for evaluation: how to build each seed, and the priority trips.

    Attributes
    ----------
    name
        Label in results.
    net_file
        The network.
    build
        Base scenario of a seed.
    requests
        The priority trips (routed later, with the evaluation's own router).
    duration_s
        Default simulated time per run, from ``begin_s`` (s).
    begin_s
        Simulation time every run begins at (s); the trips' departures are simulation times.
    """

    name: str
    net_file: Path
    build: ScenarioBuilder
    requests: tuple[TripRequest, ...]
    duration_s: float = DEFAULT_DURATION_S
    begin_s: float = 0.0


def grid_setup(
    out_dir: Path,
    size: str = "5x5",
    load: str | float = "moderate",
    requests: Sequence[TripRequest] = (),
    *,
    block_m: float = 200.0,
    name: str | None = None,
    peds: bool = False,
) -> PrioritySetup:
    """A seeded grid; without ``requests`` one ambulance crosses the middle row west to east.

    With ``peds`` the grid has sidewalks, crossings and walkers
    (:func:`~clearway.sim.pedestrians.ped_grid_scenario`).
    """
    scenarios = out_dir / "scenarios"
    nx, ny = _size(size)
    grid = build_ped_grid if peds else build_grid
    net_file = grid(scenarios, nx=nx, ny=ny, block_m=block_m)
    if not requests:
        row = ny // 2
        requests = (TripRequest(f"left{row}A{row}", f"{_col(nx - 1)}{row}right{row}", WARM_UP_S),)

    make = ped_grid_scenario if peds else grid_scenario

    def build(seed: int, end_s: float) -> Scenario:
        return make(scenarios, size=size, seed=seed, end_s=end_s, load=load, block_m=block_m)

    label = name or f"grid{size}-{load if isinstance(load, str) else f'p{load:g}s'}"
    if peds and not name:
        label += "-peds"
    return PrioritySetup(label, net_file, build, tuple(requests))


def user_setup(
    out_dir: Path,
    net_file: Path,
    route_files: Sequence[Path],
    requests: Sequence[TripRequest],
    *,
    additional_files: Sequence[Path] = (),
    period_s: float = 2.0,
    name: str | None = None,
) -> PrioritySetup:
    """Any SUMO network with the user's demand, or seeded random demand when none is given.

    ``additional_files`` are SUMO additionals the demand needs (bus stops, vTypes ...).
    """
    scenarios = out_dir / "scenarios"
    routes = [Path(p) for p in route_files]
    adds = [Path(p) for p in additional_files]

    def build(seed: int, end_s: float) -> Scenario:
        demand = routes or [
            random_demand(net_file, scenarios, seed=seed, end_s=end_s, period_s=period_s)
        ]
        return user_scenario(
            net_file, demand, scenarios, seed=seed, end_s=end_s, additional_files=adds, name=name
        )

    if not Path(net_file).is_file():
        # Same message the run command gives; checked before any demand is generated.
        load_network(net_file)
    return PrioritySetup(name or file_stem(Path(net_file)), Path(net_file), build, tuple(requests))


def with_demand_scale(setup: PrioritySetup, demand_scale: float) -> PrioritySetup:
    """``setup`` whose every seed runs its demand times ``demand_scale`` (SUMO ``--scale``).

    The priority trips are not scaled (see :func:`clearway.sim.priority_trips.with_priority_trips`).

    Raises
    ------
    ConfigError
        Unless ``demand_scale`` > 0.
    """
    scale = check_demand_scale(demand_scale)
    if scale == 1.0:
        return setup
    base = setup.build

    def build(seed: int, end_s: float) -> Scenario:
        return replace(base(seed, end_s), demand_scale=scale)

    return replace(setup, build=build)


def named_setup(name: str, out_dir: Path) -> PrioritySetup:
    """One of :data:`NAMED`.

    Raises
    ------
    ConfigError
        For an unknown name.
    """
    if name == "spillback":
        trip = TripRequest("left1A1", "E1right1", WARM_UP_S)
        return grid_setup(
            out_dir, "5x5", "heavy", (trip,), block_m=SPILLBACK_BLOCK_M, name="spillback"
        )
    if name == "convoy":
        trip = TripRequest("left2A2", "E2right2", WARM_UP_S, "convoy", CONVOY_VEHICLES)
        return grid_setup(out_dir, "5x5", "moderate", (trip,), name="convoy")
    if name == "crossing":
        return _crossing(out_dir)
    if name == DETOUR:
        return detour_setup(out_dir)
    if name == PEDESTRIANS:
        return pedestrians_setup(out_dir)
    if name == "berlin":
        net = sumo_home() / BERLIN_NET
        trip = TripRequest(*BERLIN_TRIP, WARM_UP_S)
        return user_setup(out_dir, net, (), (trip,), period_s=BERLIN_PERIOD_S, name="berlin")
    raise ConfigError(
        f"unknown scenario {name!r}; named scenarios are {', '.join(NAMED)}, or grid:NxM[:load]"
    )


def _crossing(out_dir: Path) -> PrioritySetup:
    setup = grid_setup(out_dir, "5x5", "moderate", (TripRequest("left2A2", "E2right2", WARM_UP_S),))
    ambulance = setup.requests[0]
    police = TripRequest("bottom2C0", "C4top2", 0.0, "police")
    graph = build_routing_graph(load_network(setup.net_file), "emergency")
    a = fastest_route(graph, ambulance.from_edge, ambulance.to_edge)
    b = fastest_route(graph, police.from_edge, police.to_edge)
    shared = [j for j in a.junctions if j in b.junctions]
    if not shared:
        raise ConfigError("crossing scenario: the two routes share no junction (grid changed?)")
    meet = shared[0]
    eta_a = ambulance.depart_s + a.end_times_s[a.junctions.index(meet)]
    eta_b = b.end_times_s[b.junctions.index(meet)]
    police = replace(police, depart_s=round(max(eta_a - eta_b - CROSSING_LEAD_S, 0.0), 1))
    return replace(setup, name="crossing", requests=(ambulance, police))


def detour_setup(out_dir: Path) -> PrioritySetup:
    """The ``detour`` scenario: row 2 of the moderate 5x5 grid with an incident on it (see the
    module docstring); the incident is in every run of a seed, the reference's too."""
    setup = grid_setup(out_dir, "5x5", "moderate", (TripRequest("left2A2", "E2right2", WARM_UP_S),))
    net = load_network(setup.net_file)
    lanes = " ".join(net.edge(DETOUR_INCIDENT_EDGE).lane_ids)
    incident = out_dir / "scenarios" / "detour-incident.add.xml"
    incident.parent.mkdir(parents=True, exist_ok=True)
    incident.write_text(
        "<additional>\n"
        f'    <variableSpeedSign id="incident" lanes="{lanes}">\n'
        f'        <step time="{DETOUR_INCIDENT_S:g}" speed="{DETOUR_INCIDENT_SPEED_MPS:g}"/>\n'
        "    </variableSpeedSign>\n"
        "</additional>\n"
    )
    base = setup.build

    def build(seed: int, end_s: float) -> Scenario:
        sc = base(seed, end_s)
        return replace(sc, additional_files=(*sc.additional_files, incident.resolve()))

    return replace(setup, name=DETOUR, build=build)


def pedestrians_setup(out_dir: Path) -> PrioritySetup:
    """The ``pedestrians`` scenario (see the module docstring)."""
    trip = TripRequest("left2A2", "E2right2", WARM_UP_S)
    return grid_setup(out_dir, "5x5", "moderate", (trip,), name=PEDESTRIANS, peds=True)


def build_plan(
    setup: PrioritySetup,
    seeds: Sequence[int],
    *,
    duration_s: float | None = None,
    bluelight: bool = False,
) -> EvaluationPlan:
    """Load the network, route the trips and build every seed's scenario.

    Raises
    ------
    NetworkError, NoTrafficLightsError
        The network cannot be read or has no signal.
    UnknownEdgeError, RouteError
        A trip names an unknown edge or cannot reach its destination.
    ConfigError
        A trip departs before the run begins, or the run ends before it departs.
    """
    net = load_network(setup.net_file)
    require_traffic_lights(net)
    trips, routes = plan_trips(net, setup.requests)
    duration = setup.duration_s if duration_s is None else float(duration_s)
    begin, end = setup.begin_s, setup.begin_s + duration
    early = [t.trip_id for t in trips if t.depart_s < begin]
    if early:
        raise ConfigError(
            f"priority trips {early} depart before the run begins at {begin:g} s (departures "
            f"are simulation times: e.g. @{begin + WARM_UP_S:g}); give a later departure"
        )
    late = [t.trip_id for t in trips if t.depart_times_s()[-1] >= end]
    if late:
        raise ConfigError(
            f"priority trips {late} depart after the run ends at {end:g} s; "
            "give a longer --duration-s or an earlier departure"
        )
    scenarios = {seed: _begun(setup.build(seed, end), begin) for seed in seeds}
    return EvaluationPlan(
        setup.name, net, scenarios, trips, routes, duration, bluelight, begin_s=begin
    )


def _begun(scenario: Scenario, begin_s: float) -> Scenario:
    return replace(scenario, begin_s=begin_s) if begin_s else scenario


def _size(size: str) -> tuple[int, int]:
    try:
        nx, ny = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"grid size must look like '5x5', got {size!r}") from None
    return nx, ny


def _col(i: int) -> str:
    # netgenerate names grid columns A, B, ... Z, then AA ...
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name
