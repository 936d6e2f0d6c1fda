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


def plan(net, models, traffic=None, **kw):
    args = dict(request_id="R1", importance=12, edge_id="A1B1", offset_m=20.0, speed_mps=13.89,
                now_s=60.0, timers=observed(net), traffic=traffic)  # fmt: skip
    return plan_corridor(net, models, ROUTE, **(args | kw))


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
