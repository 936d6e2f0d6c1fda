"""Live edge times for re-routing: a standing queue counted once, slow moving traffic as a
slow street, and the window / memory of :class:`LiveTimes`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clearway.network import load_network
from clearway.network.graph import JAM_SPACING_M, edge_times_s
from clearway.network.live_times import QUEUE_HEADWAY_S, LiveTimes, live_edge_times_s
from clearway.network.routing import build_routing_graph
from clearway.state.traffic import TrafficState
from tests.fakes.networks import netgenerate_grid

EDGE = "B1C1"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return load_network(netgenerate_grid(tmp_path_factory.mktemp("live") / "g.net.xml", 3))


@pytest.fixture(scope="module")
def graph(net):
    return build_routing_graph(net)


def state(net, t=0.0, **lanes: tuple[float, float, float, float]) -> TrafficState:
    """Detectors on both lanes of EDGE: per lane (count, halting, speed m/s, queue m);
    lanes not given are empty."""
    ids = tuple(net.edge(EDGE).lane_ids)
    rows = [lanes.get(lane.replace(EDGE, "L"), (0, 0, -1.0, 0.0)) for lane in ids]
    count, halting, speed, queue = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    return TrafficState(t, ids, count, halting, queue, np.zeros(len(ids)), speed)


def free(graph) -> float:
    return float(graph.free_flow_s[graph.index[EDGE]])


def lane_len(graph) -> float:
    return float(graph.lane_length_m[graph.lane_ids.index(f"{EDGE}_0")])


def test_a_standing_queue_adds_its_discharge_once(net, graph):
    # Both lanes: 4 vehicles standing in a 30 m queue at a red light.
    ts = state(net, L_0=(4, 4, 0.0, 30.0), L_1=(4, 4, 0.0, 30.0))
    live = live_edge_times_s(graph, ts)[graph.index[EDGE]]
    assert live == pytest.approx(free(graph) + 30.0 / JAM_SPACING_M * QUEUE_HEADWAY_S)
    # The submit-time estimate also runs the whole lane at walking pace.
    assert edge_times_s(graph, net, ts)[graph.index[EDGE]] > live + 50.0


def test_slow_moving_traffic_is_a_slow_street(net, graph):
    # One lane crawls at 2.5 m/s with nobody standing; the other is empty (free flow).
    ts = state(net, L_0=(3, 0, 2.5, 0.0))
    live = live_edge_times_s(graph, ts)[graph.index[EDGE]]
    assert live == pytest.approx((lane_len(graph) / 2.5 + free(graph)) / 2)


def test_the_moving_vehicles_speed_excludes_the_standing_ones(net, graph):
    # 4 vehicles, 2 standing: a mean of 5 m/s is 10 m/s for the two that move.
    ts = state(net, L_0=(4, 2, 5.0, 0.0), L_1=(4, 2, 5.0, 0.0))
    assert live_edge_times_s(graph, ts)[graph.index[EDGE]] == pytest.approx(
        max(lane_len(graph) / 10.0, free(graph))
    )


def test_live_times_take_the_fastest_vehicle_of_the_window(net, graph):
    live = LiveTimes(graph, window_s=20.0, bucket_s=5.0, memory_s=60.0)
    k = graph.index[EDGE]
    fast = lane_len(graph) / 12.0

    def lanes(t, n, speed):
        return live.update(state(net, float(t), L_0=(n, 0, speed, 0.0), L_1=(n, 0, speed, 0.0)))

    for t in range(0, 20, 5):
        times = lanes(t, 1, 12.0)
    assert times[k] == pytest.approx(max(fast, free(graph)))
    # A vehicle braking for a red after one passed at 12 m/s: the street is not slow.
    assert lanes(21, 1, 3.0)[k] == pytest.approx(max(fast, free(graph)))
    # Everyone crawls for longer than the window: now it is.
    for t in range(25, 50, 5):
        times = lanes(t, 2, 2.5)
    assert times[k] == pytest.approx(lane_len(graph) / 2.5)


def test_one_slow_vehicle_alone_is_no_slow_street(net, graph):
    live = LiveTimes(graph, window_s=20.0, bucket_s=5.0, memory_s=60.0)
    k = graph.index[EDGE]
    live.update(state(net, 0.0, L_0=(1, 0, 3.0, 0.0)))  # braking for the red ...
    live.update(state(net, 5.0, L_0=(1, 1, 0.0, 7.5)))  # ... then standing
    times = live.update(state(net, 10.0))
    # Free flow, plus the one standing car's discharge averaged over the three readings and
    # the edge's two lanes.
    assert times[k] == pytest.approx(free(graph) + QUEUE_HEADWAY_S / 3 / 2)


def test_an_empty_detector_keeps_the_last_run_for_its_memory(net, graph):
    live = LiveTimes(graph, window_s=10.0, bucket_s=5.0, memory_s=60.0)
    k = graph.index[EDGE]
    crawl = lane_len(graph) / 2.0
    for t in range(0, 15, 5):
        live.update(state(net, float(t), L_0=(2, 0, 2.0, 0.0), L_1=(2, 0, 2.0, 0.0)))
    assert live.update(state(net, 40.0))[k] == pytest.approx(crawl)  # empty: remembered
    # A queue standing at a red says nothing of the speed either.
    halted = state(net, 50.0, L_0=(3, 3, 0.0, 20.0), L_1=(3, 3, 0.0, 20.0))
    assert live.update(halted)[k] > crawl
    assert live.update(state(net, 90.0))[k] == pytest.approx(free(graph))  # forgotten


def test_bad_windows_are_refused(graph):
    with pytest.raises(ValueError, match="bucket_s"):
        LiveTimes(graph, window_s=2.0, bucket_s=5.0)
    assert math.isfinite(LiveTimes(graph).times_s.sum())
