"""The transit-aware fixed-time controller in the control loop with fakes (no SUMO run): a late
bus stretches its green or brings it forward within the limits, an on-time bus changes
nothing, the cycle keeps its place, and an emergency vehicle's hold is never displaced by a
bus. Also the bus board: lateness from a position and the schedule, or from the operator."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.bootstrap import build_controller
from clearway.control.fixed_time import FixedTimeController
from clearway.control.priority.bus_board import BusBoard, BusLine, BusReport
from clearway.control.priority.gtfs import ScheduleError, parse_schedule
from clearway.control.priority.policies import CorridorPreemption
from clearway.control.priority.preemption import PreemptionController
from clearway.control.priority.request import PriorityRequestSpec
from clearway.control.priority.transit import TransitSettings
from clearway.control.runtime import ControlLoop
from clearway.control.transit_control import BusApproach, TransitFixedTimeController
from clearway.network import load_network
from clearway.signals.build import build_intersections
from clearway.signals.safety import SafetyGuard
from tests.fakes.junctions import FakeSignals
from tests.fakes.networks import netgenerate_grid
from tests.fakes.priority import GREEN, DrivenVehicle, PriorityRun

EAST = (16, 17)  # A1B1 -> B1C1 through B1: green in program phase 2
NORTH = (11, 12)  # B0B1 -> B1B2: green in program phase 0
SETTINGS = TransitSettings(late_threshold_s=60.0, max_extension_s=10.0, max_early_s=10.0)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    out = netgenerate_grid(tmp_path_factory.mktemp("transit") / "grid.net.xml", 4)
    net = load_network(out)
    return net, build_intersections(net)


class StandingBus:
    """A bus that keeps approaching B1 from ``edge`` (a standing call), ``lateness_s`` late."""

    def __init__(self, edge: str, nxt: str, lateness_s: float, from_s: float = 0.0) -> None:
        self.bus = BusApproach("BUS-1", edge, 150.0, 6.0, nxt, lateness_s)
        self.from_s = from_s

    def bus_approaches(self, now_s):
        return [self.bus] if now_s >= self.from_s else []


def run(grid, ctrl, duration_s=400.0):
    net, models = grid
    programs = {sid: net.traffic_lights[sid].default_program for sid in models}
    fake = FakeSignals({sid: programs[sid].phases[0].state for sid in models})
    loop = ControlLoop(fake, fake, fake, SafetyGuard(models), ctrl)
    loop.run(duration_s)
    assert loop.stats.rejected == 0
    return fake


def green_spans(fake, links, sid="B1", before_s=340.0):
    """(start, end) of every green of ``links`` at ``sid`` that starts before ``before_s``
    (so runs compare cycle by cycle; the last may run to the end)."""
    spans, start = [], None
    for t, states in fake.history:
        on = all(states[sid][i] in GREEN for i in links)
        if on and start is None:
            start = t
        elif not on and start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, fake.history[-1][0]))  # still green at the end
    return [sp for sp in spans if sp[0] < before_s]


def controllers(grid, bus):
    net, models = grid
    programs = {sid: net.traffic_lights[sid].default_program for sid in models}
    plain = FixedTimeController(models, programs)
    transit = TransitFixedTimeController(net, models, programs, bus, SETTINGS)
    return plain, transit


def test_a_late_bus_gets_its_green_stretched_and_brought_forward_within_the_limits(grid):
    """A bus always approaching on the east movement: each cycle its green comes up to
    max_early_s sooner (the cross phase truncated) and lasts up to max_extension_s longer."""
    plain, transit = controllers(grid, StandingBus("A1B1", "B1C1", 120.0))
    fp, ft = run(grid, plain), run(grid, transit)
    base, ext = green_spans(fp, EAST), green_spans(ft, EAST)
    assert len(base) == len(ext)
    later = [b1 - a1 for (_, a1), (_, b1) in zip(base, ext, strict=True)]
    sooner = [a0 - b0 for (a0, _), (b0, _) in zip(base, ext, strict=True)]
    assert max(later) > 0 and all(0 <= x <= SETTINGS.max_extension_s + 1.0 for x in later)
    assert max(sooner) > 0 and all(0 <= x <= SETTINGS.max_early_s for x in sooner)
    assert {a for _, _, a, _ in transit.actions} == {"extend", "early"}
    # Each action names the bus it was for (what the service audits), once.
    taken = transit.take_decisions()
    assert [(d.time_s, d.signal_id, d.action) for d in taken] == [a[:3] for a in transit.actions]
    assert {d.vehicle_ids for d in taken} == {("BUS-1",)} and transit.take_decisions() == []
    # The cross street still gets its green every cycle, above its minimum.
    cross, cross_plain = green_spans(ft, NORTH), green_spans(fp, NORTH)
    assert len(cross) == len(cross_plain) and min(e - s for s, e in cross) >= 5.0


def test_an_on_time_bus_changes_nothing(grid):
    plain, transit = controllers(grid, StandingBus("A1B1", "B1C1", 60.0))
    assert run(grid, plain).history == run(grid, transit).history
    assert transit.actions == []


def test_early_green_comes_sooner_and_skips_no_phase(grid):
    """A bus calling on the cross street from 100 s on: its green comes sooner each cycle,
    and ends no later than its normal end plus one extension (the cycle keeps its place)."""
    plain, transit = controllers(grid, StandingBus("B0B1", "B1B2", 300.0, from_s=100.0))
    fp, ft = run(grid, plain), run(grid, transit)
    base, early = green_spans(fp, NORTH), green_spans(ft, NORTH)
    assert len(base) == len(early)  # no cycle lost
    assert base[0] == early[0]  # before the bus came
    starts = [a0 - b0 for (a0, _), (b0, _) in zip(base, early, strict=True)]
    assert max(starts) > 0 and all(0 <= s <= SETTINGS.max_early_s for s in starts)
    ends = [b1 - a1 for (_, a1), (_, b1) in zip(base[:-1], early[:-1], strict=True)]
    assert all(0 <= x <= SETTINGS.max_extension_s + 1.0 for x in ends)
    # The cross street is still served every cycle, never below its minimum green.
    cross = green_spans(ft, EAST)
    assert len(cross) == len(green_spans(fp, EAST))
    assert min(e - s for s, e in cross[:-1]) >= 5.0
    assert "early" in {a for _, _, a, _ in transit.actions}


def test_a_bus_never_displaces_an_emergency_hold(grid):
    """An ambulance goes east through B1 while a bus 5 minutes late waits on the cross street
    there: the ambulance gets its green on arrival, and while B1 is held every command there
    is the hold's, none the transit controller's."""
    net, models = grid
    prun = PriorityRun(net, models, CorridorPreemption())
    bus = StandingBus("B0B1", "B1B2", 300.0)
    # Wired as the evaluation and the service wire it: corridor priority over fixed-time
    # normal control that serves late buses.
    prun.ctrl = build_controller("corridor", net, models, prun.feed, buses=bus)
    assert isinstance(prun.ctrl, PreemptionController)
    assert isinstance(prun.ctrl.normal, TransitFixedTimeController)
    prun.loop = ControlLoop(prun.fake, prun.fake, prun.fake, SafetyGuard(models), prun.ctrl)
    prun.run(30.0)
    route = ("A1B1", "B1C1", "C1D1", "D1D2")
    spec = PriorityRequestSpec(
        requester_id="AMB-1", role="ambulance", importance=12, incident_id="I-1", route=route
    )
    prun.ctrl.submit(spec, prun.now_s)
    amb = DrivenVehicle(net, route)
    prun.add_vehicle("AMB-1", amb)
    assert prun.run_until(lambda: amb.arrived, 200.0)
    assert amb.stops == 0
    at_b1 = next(a for a in amb.arrivals if a.crossing.signal_id == "B1")
    assert all(at_b1.shown[i] in GREEN for i in at_b1.crossing.core)
    (first, last), *_ = prun.held_spans("B1")
    during = {
        c.source for c in prun.fake.applied if c.signal_id == "B1" and first < c.time_s <= last
    }
    assert during and "fixed-time+transit" not in during
    assert prun.loop.stats.rejected == 0


# -- the board -------------------------------------------------------------------------------
TRIPS = "route_id,service_id,trip_id\nL,all,L.0\n"
STOP_TIMES = (
    "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "L.0,00:01:00,00:01:00,s0,1\nL.0,00:02:00,00:02:20,s1,2\n"
)
LINE = BusLine("L", ("e0", "e1"), (200.0, 300.0), {"s0": ("e0", 100.0), "s1": ("e1", 250.0)})


def board():
    return BusBoard(parse_schedule(TRIPS, STOP_TIMES), {"L": LINE}, stale_s=30.0)


def test_board_lateness_from_position_and_the_operators_fresher_delay():
    b = board()
    # Halfway from s0 (dep 60 s, at 100 m) to s1 (arr 120 s, at 450 m): due at 90 s.
    b.observe("bus7", BusReport("L.0", "e1", 75.0, 8.0, 170.0))
    (a,) = b.bus_approaches(170.0)
    assert a.lateness_s == pytest.approx(80.0) and a.next_edge_id is None and not a.dwelling
    b.observe_delay("L.0", 30.0, 175.0)  # the operator's GTFS-rt delay is fresher
    assert b.lateness_s(BusReport("L.0", "e1", 75.0, 8.0, 170.0)) == 30.0
    b.observe("bus7", BusReport("L.0", "e0", 100.0, 0.0, 180.0))  # standing at s0
    (a,) = b.bus_approaches(180.0)
    assert a.dwelling and a.next_edge_id == "e1" and a.lateness_s == pytest.approx(120.0)
    assert b.bus_approaches(211.0) == []  # not heard of for 31 s: forgotten


def test_board_refuses_unknown_trips_and_stops_off_the_line():
    with pytest.raises(ScheduleError, match="not in the GTFS schedule"):
        board().observe("bus", BusReport("X.9", "e0", 0.0, 0.0, 0.0))
    with pytest.raises(ScheduleError, match="does not drive"):
        BusBoard({}, {"L": BusLine("L", ("e0",), (10.0,), {"s": ("zz", 1.0)})})


# -- never preemption, whatever the buses do (hypothesis) -------------------------------------
class ScriptedBuses:
    """Buses approaching B1 in given windows: (from s, to s, approach, next edge, lateness s)."""

    def __init__(self, calls) -> None:
        self.calls = calls

    def bus_approaches(self, now_s):
        return [
            BusApproach(f"b{k}", edge, 150.0, 5.0, nxt, late)
            for k, (t0, t1, edge, nxt, late) in enumerate(self.calls)
            if t0 <= now_s < t1
        ]


MOVES = [("A1B1", "B1C1"), ("C1B1", "B1A1"), ("B0B1", "B1B2"), ("B2B1", "B1B0")]
bus_calls = st.lists(
    st.tuples(
        st.integers(0, 280), st.integers(1, 60), st.sampled_from(MOVES), st.floats(-100, 400)
    ),
    max_size=6,
).map(lambda xs: [(t, t + d, e, n, late) for t, d, (e, n), late in xs])


def run_program_order_check(grid, calls) -> TransitFixedTimeController:
    """Run B1 alone for 300 s with ``calls``; assert against the program itself (the oracle):
    the greens shown follow the program's own order (no phase skipped, none repeated), each
    lasts at least the minimum green and at most its programmed duration plus one early green
    and one extension."""
    net, models = grid
    one = {"B1": models["B1"]}
    program = net.traffic_lights["B1"].default_program
    ctrl = TransitFixedTimeController(net, one, {"B1": program}, ScriptedBuses(calls), SETTINGS)
    fake = FakeSignals({"B1": program.phases[0].state})
    loop = ControlLoop(fake, fake, fake, SafetyGuard(one), ctrl)
    loop.run(300.0)
    assert loop.stats.rejected == 0
    greens = [p for p in program.phases if "y" not in p.state and any(c in GREEN for c in p.state)]
    order = [p.state for p in greens]
    changes = fake.shown["B1"]
    spans = [(s, changes[k + 1][0] - t) for k, (t, s) in enumerate(changes[:-1]) if s in order]
    assert len(spans) >= 5  # 300 s of a 90 s cycle
    min_green = min(t.min_green_s for t in models["B1"].timings)
    for (s0, lasted), (s1, _) in zip(spans, spans[1:], strict=False):
        assert order[(order.index(s0) + 1) % len(order)] == s1, (s0, s1)  # the next one
        duration = next(p.duration_s for p in greens if p.state == s0)
        limit = duration + SETTINGS.max_early_s + SETTINGS.max_extension_s + 1.0
        assert min_green - 1e-9 <= lasted <= limit, (s0, lasted)
    return ctrl


@settings(max_examples=25, deadline=None)
@given(calls=bus_calls)
def test_whatever_the_buses_do_the_program_order_holds_and_greens_stay_within_limits(grid, calls):
    run_program_order_check(grid, calls)


def test_the_order_check_on_buses_that_are_served(grid):
    """The same check where late buses certainly get an extension and an early green."""
    calls = [(0, 140, "A1B1", "B1C1", 200.0), (150, 250, "B0B1", "B1B2", 200.0)]
    ctrl = run_program_order_check(grid, calls)
    assert {a for _, _, a, _ in ctrl.actions} == {"extend", "early"}
