"""The corridor plan on a generated grid: order, ETAs, queue and transition lead times."""

from __future__ import annotations

import numpy as np
import pytest

from clearway.control.priority.corridor import plan_corridor, signal_of_junction
from clearway.network import load_network
from clearway.signals.build import build_intersections
from clearway.signals.timers import SignalTimers
from clearway.state.traffic import TrafficState
from tests.fakes.networks import netgenerate_grid

ROUTE = ("A1B1", "B1C1", "C1D1", "D1E1")

SIZE = 5


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    out = netgenerate_grid(tmp_path_factory.mktemp("corr") / "grid.net.xml", SIZE)
    net = load_network(out)
    models = build_intersections(net)
    return net, models


def observed(net, t0=0.0, now=60.0):
    return {
        sid: SignalTimers.start(sid, tl.default_program.phases[0].state, t0).observe(
            tl.default_program.phases[0].state, now
        )
        for sid, tl in net.traffic_lights.items()
    }


def plan(net, models, traffic=None, route=ROUTE, **kw):
    args = dict(request_id="R1", importance=12, edge_id="A1B1", offset_m=20.0, speed_mps=13.89,
                now_s=60.0, timers=observed(net), traffic=traffic)  # fmt: skip
    return plan_corridor(net, models, route, **(args | kw))


def test_plans_follow_the_route_with_growing_etas(grid):
    net, models = grid
    plans = plan(net, models)
    # The trip ends on D1E1: junction E1 is never crossed, so it is not held.
    assert [p.junction_id for p in plans] == ["B1", "C1", "D1"]
    etas = [p.eta_s for p in plans]
    assert etas == sorted(etas) and etas[0] > 60.0
    for k, p in enumerate(plans):
        assert p.hold_until_s > p.eta_s
        assert models[p.signal_id].conflicting_greens(p.target_state) == []
        own = {
            lk.signal_index
            for lk in net.signal_links(p.signal_id)
            if (lk.from_edge, lk.to_edge) == (ROUTE[k], ROUTE[k + 1])
        }
        assert own and all(p.target_state[i] == "G" for i in own), (p.signal_id, p.target_state)
        assert p.green_start_s == pytest.approx(p.eta_s - p.transition_s)  # no queue known


def test_a_queue_on_the_approach_moves_green_earlier(grid):
    net, models = grid
    lanes = tuple(lane for lane in net.lanes if lane.startswith("A1B1_"))
    q = np.full(len(lanes), 60.0)
    z = np.zeros(len(lanes))
    traffic = TrafficState(60.0, lanes, z, z, q, z, z)
    calm, queued = plan(net, models)[0], plan(net, models, traffic=traffic)[0]
    assert queued.queue_m == 60.0
    assert queued.green_start_s < calm.green_start_s - 5.0


def test_a_convoy_holds_longer(grid):
    net, models = grid
    single, convoy = plan(net, models)[0], plan(net, models, pass_time_s=12.0)[0]
    assert convoy.hold_until_s == pytest.approx(single.hold_until_s + 12.0)


def test_transition_counts_what_must_end_first(grid):
    net, models = grid
    sid = signal_of_junction(net)["B1"]
    fresh = observed(net, t0=60.0, now=60.0)  # every green just started: min green still owed
    p_fresh = plan(net, models, timers=fresh)[0]
    p_served = plan(net, models)[0]
    assert p_fresh.signal_id == sid
    assert p_fresh.transition_s >= p_served.transition_s


def test_an_old_report_is_projected_forward_not_planned_as_if_fresh(grid):
    net, models = grid
    fresh = plan(net, models, now_s=55.0, timers=observed(net, now=55.0))
    old = plan(net, models, position_time_s=55.0)  # the same report, read 5 s later
    assert [p.eta_s for p in old] == pytest.approx([p.eta_s for p in fresh])
    assert [p.distance_m for p in old] == pytest.approx(
        [p.distance_m - 5.0 * 13.89 for p in fresh], abs=1e-6
    )


def test_a_junction_predicted_passed_stays_held_until_accuracy_and_age_allow(grid):
    net, models = grid
    end = net.edge("A1B1").length_m
    near = {"offset_m": end - 10.0, "position_time_s": 55.0}
    # Exact report 5 s old, 10 m before B1 at 13.89 m/s: over the line at 55.7 s; with the
    # stop-line margin and half the age it may end at 59.2 s — before now (60 s).
    assert "B1" not in [p.junction_id for p in plan(net, models, **near)]
    # 15 m accuracy: it may have been 30 m further back, over the line at 57.9 s at the
    # latest, held until 61.4 s: still planned, arriving now at the latest — and as B1 is
    # red for it, no sooner than its green can come (the plan's delay pushes the hold too).
    b1 = plan(net, models, accuracy_m=15.0, **near)[0]
    assert b1.junction_id == "B1" and b1.distance_m == 0.0 and b1.transition_s > 0
    assert b1.eta_s == pytest.approx(60.0 + b1.transition_s)
    shift = b1.eta_s - 60.0
    assert b1.hold_until_s == pytest.approx(55.0 + 40.0 / 13.89 + 1.0 + 2.5 + shift)
    # Still before the line by 20 m on evidence (a matched report 2 sigma ahead): planned.
    far = plan(net, models, offset_m=end - 40.0, accuracy_m=10.0, now_s=60.0)
    assert far[0].junction_id == "B1" and far[0].eta_s > 60.0


def _bare_plan(sid, eta_s, *, transition_s, ready_s, hold_s=1.0):
    from clearway.control.priority.arbitration import Claim
    from clearway.control.priority.corridor import JunctionPlan

    return JunctionPlan(
        signal_id=sid, junction_id=sid, claim=Claim("R1", sid, frozenset({0}), 12, eta_s),
        core=frozenset({0}), target_state="", eta_s=eta_s, distance_m=10.0, queue_m=0.0,
        transition_s=transition_s, green_start_s=eta_s - transition_s,
        hold_until_s=eta_s + hold_s, ready_s=ready_s,
    )  # fmt: skip


def test_a_green_movement_is_not_held_up_by_the_rest_of_its_claims_transition():
    from clearway.control.priority.corridor import propagate_delays

    # 2 s from the line, its own link green; the claim's other links need 4 s more to change.
    now = 100.0
    ready = propagate_delays(
        [_bare_plan("J", now + 2.0, transition_s=4.0, ready_s=0.0),
         _bare_plan("K", now + 20.0, transition_s=4.0, ready_s=4.0)], now,
    )  # fmt: skip
    assert [p.eta_s for p in ready] == [now + 2.0, now + 20.0]
    assert ready[0].hold_until_s == now + 3.0  # the hold ends when it is through, not 2 s later
    # Its own link still red: it cannot be over the line before the transition, nor can every
    # junction after it be reached as early.
    late = propagate_delays(
        [_bare_plan("J", now + 2.0, transition_s=4.0, ready_s=4.0),
         _bare_plan("K", now + 20.0, transition_s=4.0, ready_s=4.0)], now,
    )  # fmt: skip
    assert [p.eta_s for p in late] == [now + 4.0, now + 22.0]


def test_the_plan_says_when_the_vehicles_own_movement_is_ready(grid):
    net, models = grid
    timers = observed(net)
    for p in plan(net, models, timers=timers):
        shown = timers[p.signal_id].state
        own_ready = all(shown[i] == p.target_state[i] for i in p.core)
        assert p.ready_s == (0.0 if own_ready else p.transition_s)


# -- the other movements of the vehicle's lanes ------------------------------------------------
# At B1 from A1B1 (2 lanes): the right turn onto B1B0 is served from lane 0 only, beside that
# lane's straight movement; the straight movement onto B1C1 from both lanes.


def _detectors(net, counts=None, queues=None):
    lanes = tuple(lane for lane in net.lanes if lane.startswith("A1B1_"))
    count = np.array([float((counts or {}).get(lane, 0)) for lane in lanes])
    queue = np.array([float((queues or {}).get(lane, 0.0)) for lane in lanes])
    z = np.zeros(len(lanes))
    return TrafficState(60.0, lanes, count, z, queue, z, z)


def _lane_links(net, lane):
    return {lk.signal_index for lk in net.signal_links("B1") if lk.from_lane == lane}


def test_a_turn_served_from_one_lane_claims_that_lanes_other_movements(grid):
    net, models = grid
    empty = _detectors(net)
    turn = plan(net, models, traffic=empty, route=("A1B1", "B1B0"))[0]
    # Held to lane 0, the vehicle cannot pass a car there going straight: its way is claimed
    # though no detector sees one yet (it may join beyond the detector's reach).
    assert turn.claim.links == _lane_links(net, "A1B1_0") and turn.core < turn.claim.links
    assert turn.lane_bound == turn.claim.links - turn.core
    straight = plan(net, models, traffic=empty)[0]
    # With both lanes going its way it can pass such a car: only its own movement is claimed.
    assert straight.claim.links == straight.core and straight.lane_bound == frozenset()


def test_cars_on_the_one_lane_whose_other_way_is_red_are_cleared_as_a_queue(grid):
    net, models = grid
    route = ("A1B1", "B1B0")
    (straight,) = _lane_links(net, "A1B1_0") - {lk.signal_index for lk in net.signal_links("B1")
                                                 if lk.to_edge == "B1B0"}  # fmt: skip
    phases = net.traffic_lights["B1"].default_program.phases
    red = next(ph.state for ph in phases if ph.state[straight] == "r" and "G" in ph.state)
    timers = observed(net) | {"B1": SignalTimers.start("B1", red, 0.0).observe(red, 60.0)}
    calm = plan(net, models, traffic=_detectors(net), timers=timers, route=route)[0]
    cars = plan(net, models, traffic=_detectors(net, counts={"A1B1_0": 4}), timers=timers,
                route=route)[0]  # fmt: skip
    # Four cars on lane 0's detector, none halted yet: any of them may be going straight, at
    # a red, in front of the vehicle. They are discharged like a queue.
    assert cars.lane_bound == {straight} == calm.lane_bound
    assert (calm.queue_m, cars.queue_m) == (0.0, pytest.approx(4 * 7.5))
    assert cars.green_start_s < calm.green_start_s - 5.0
    # With that way green they will not stop: nothing more to discharge.
    green = next(ph.state for ph in phases if ph.state[straight] in "Gg")
    go = observed(net) | {"B1": SignalTimers.start("B1", green, 0.0).observe(green, 60.0)}
    assert plan(net, models, traffic=_detectors(net, counts={"A1B1_0": 4}), timers=go,
                route=route)[0].queue_m == 0.0  # fmt: skip


def test_a_green_own_movement_does_not_hide_a_red_one_of_its_lane(grid):
    from clearway.control.priority.policies import CorridorPreemption

    net, models = grid
    turn = plan(net, models, traffic=_detectors(net), route=("A1B1", "B1B0"))[0]
    (sibling,) = turn.lane_bound
    both = "".join("G" if i in turn.claim.links else "r" for i in range(len(turn.target_state)))
    own_only = "".join("r" if i == sibling else c for i, c in enumerate(both))
    policy, model = CorridorPreemption(), models["B1"]
    at = turn.green_start_s
    # Its own way green, a car in front of it waiting at its lane's other way: serve that way.
    assert policy.wants(turn, model, own_only, own_only, at)
    # Both green and staying so: the normal controller may go on.
    assert not policy.wants(turn, model, both, both, at)
    # Both green, the lane's other way about to end near the green start: it is held.
    assert policy.wants(turn, model, both, own_only, at)
